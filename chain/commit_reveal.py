"""The weight-commit hash, computed the same way by validators (to commit) and the chain (to
check a reveal).

``BLAKE2b-256(b"subnetkit/commit/v1\\0" || u16 len || hotkey ss58 || u16 netuid || u32 count ||
uids as u16 || weights as u16 || u16 len || salt || u64 version_key)``. Binding the hotkey and
netuid means a commit cannot be copied by another validator or replayed on another subnet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

DOMAIN = b"subnetkit/commit/v1\x00"


def commit_hash(
    hotkey: str,
    netuid: int,
    uids: Sequence[int],
    weights: Sequence[int],
    salt: bytes,
    version_key: int = 0,
) -> bytes:
    who = hotkey.encode()
    parts = [
        DOMAIN,
        len(who).to_bytes(2, "big"),
        who,
        netuid.to_bytes(2, "big"),
        len(uids).to_bytes(4, "big"),
        b"".join(int(u).to_bytes(2, "big") for u in uids),
        len(weights).to_bytes(4, "big"),
        b"".join(int(w).to_bytes(2, "big") for w in weights),
        len(salt).to_bytes(2, "big"),
        salt,
        version_key.to_bytes(8, "big"),
    ]
    return hashlib.blake2b(b"".join(parts), digest_size=32).digest()

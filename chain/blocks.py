"""Block headers: hashing and the extrinsics root.

A header hash is SHA-256 over ``number (u64) || parent_hash || timestamp_ms (u64) ||
extrinsics_root || state_root || extrinsic_count (u32)``. The extrinsics root is SHA-256 over the
concatenated extrinsic hashes in block order (a flat commitment; no inclusion proofs needed
locally). Block 0 is genesis, with a zero parent hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from subnetkit.protos.chain.v1 import chain_pb2 as pb

ZERO = bytes(32)


def extrinsics_root(hashes: Sequence[bytes]) -> bytes:
    return hashlib.sha256(b"".join(hashes)).digest()


def make_header(
    number: int,
    parent_hash: bytes,
    timestamp_ms: int,
    ext_hashes: Sequence[bytes],
    state_root: bytes,
) -> pb.BlockHeader:
    xroot = extrinsics_root(ext_hashes)
    digest = hashlib.sha256(
        number.to_bytes(8, "big")
        + parent_hash
        + timestamp_ms.to_bytes(8, "big")
        + xroot
        + state_root
        + len(ext_hashes).to_bytes(4, "big")
    ).digest()
    return pb.BlockHeader(
        number=number,
        hash=digest,
        parent_hash=parent_hash,
        timestamp_ms=timestamp_ms,
        extrinsics_root=xroot,
        state_root=state_root,
        extrinsic_count=len(ext_hashes),
    )

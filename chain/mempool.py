"""The pool of verified extrinsics waiting for a block, ordered per signer by nonce.

An extrinsic enters only after its signature checked out and its nonce is not already used; it
leaves when a block includes it (its future gets the receipt after the block commits), when a
later block finds its nonce stale, or at shutdown. Nonces ahead of the signer's next one wait
(up to ``MAX_FUTURE_NONCES`` ahead) so a client may send a burst without waiting for each.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from subnetkit.chain.errors import chain_error
from subnetkit.chain.extrinsic import Checked
from subnetkit.protos.chain.v1 import chain_pb2 as pb

MAX_FUTURE_NONCES = 4096


@dataclass(slots=True)
class Pending:
    ext: Checked
    future: asyncio.Future[pb.Receipt] = field(repr=False)


class Mempool:
    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._by_signer: dict[str, dict[int, Pending]] = {}
        self._by_hash: dict[bytes, Pending] = {}

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, ext_hash: bytes) -> Pending | None:
        return self._by_hash.get(ext_hash)

    def add(self, ext: Checked, account_nonce: int) -> Pending:
        """Admit ``ext`` or raise a typed error (stale/future nonce, duplicate, pool full)."""
        if ext.hash in self._by_hash:
            raise chain_error("duplicate_extrinsic", "this extrinsic is already in the pool")
        if ext.nonce < account_nonce:
            raise chain_error(
                "stale_nonce",
                f"nonce {ext.nonce} was already used by {ext.signer}; its next nonce is "
                f"{account_nonce} (query the account and sign again)",
            )
        if ext.nonce >= account_nonce + MAX_FUTURE_NONCES:
            raise chain_error(
                "future_nonce",
                f"nonce {ext.nonce} is too far ahead of {ext.signer}'s next nonce "
                f"{account_nonce}; send the missing nonces first",
            )
        queue = self._by_signer.setdefault(ext.signer, {})
        if ext.nonce in queue:
            raise chain_error(
                "duplicate_extrinsic",
                f"nonce {ext.nonce} of {ext.signer} is already pending in another extrinsic; "
                "use the next nonce",
            )
        if len(self._by_hash) >= self.capacity:
            raise chain_error("pool_full", "the extrinsic pool is full; retry after a block")
        pending = Pending(ext, asyncio.get_running_loop().create_future())
        queue[ext.nonce] = pending
        self._by_hash[ext.hash] = pending
        return pending

    def snapshot(self) -> list[list[Pending]]:
        """Per signer (in arrival order), the pending extrinsics sorted by nonce."""
        return [[q[n] for n in sorted(q)] for q in self._by_signer.values() if q]

    def remove(self, pending: Pending) -> None:
        self._by_hash.pop(pending.ext.hash, None)
        queue = self._by_signer.get(pending.ext.signer)
        if queue is not None:
            queue.pop(pending.ext.nonce, None)
            if not queue:
                del self._by_signer[pending.ext.signer]

    def drain(self) -> list[Pending]:
        items = list(self._by_hash.values())
        self._by_hash.clear()
        self._by_signer.clear()
        return items

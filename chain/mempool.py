"""The pool of verified extrinsics waiting for a block, ordered per signer by nonce.

An extrinsic enters only after its signature checked out, its nonce is not already used, and
its signer can pay the fees of everything it has pending (so fresh unfunded keys cannot fill
the pool for free). It leaves when a block includes it (its future gets the receipt after the
block commits), when a later block finds its nonce stale or its signer unable to pay, when it
waited ``future_ttl_blocks`` behind a nonce gap, when it is evicted, or at shutdown.

Like Substrate's pool, entries are *ready* (the signer's next nonce, or right after a ready
one) or *future* (behind a gap). The pool is bounded by count and by bytes, the future part by a
tenth of that, and each signer by ``max_per_account`` entries: a full future part evicts its
oldest entry; a full pool evicts the oldest future entry for a ready newcomer, and otherwise
refuses with ``pool_full``. Nonces more than ``MAX_FUTURE_NONCES`` ahead are refused outright.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from subnetkit.chain.errors import chain_error
from subnetkit.chain.extrinsic import Checked
from subnetkit.core.errors import ChainError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

MAX_FUTURE_NONCES = 4096


@dataclass(frozen=True, slots=True)
class PoolLimits:
    max_count: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    #: a signer's pending extrinsics (ready and future together)
    max_per_account: int = 1024
    #: blocks an extrinsic may wait behind a nonce gap before it is dropped
    future_ttl_blocks: int = 64

    @property
    def max_future_count(self) -> int:
        return max(1, self.max_count // 10)

    @property
    def max_future_bytes(self) -> int:
        return max(1, self.max_bytes // 10)


@dataclass(slots=True)
class Pending:
    ext: Checked
    future: asyncio.Future[pb.Receipt] = field(repr=False)
    fee: int = 0
    weight: int = 0
    #: head block number when it was admitted (or last became future)
    since: int = 0
    ready: bool = False

    @property
    def size(self) -> int:
        return len(self.ext.raw)


class Mempool:
    def __init__(self, limits: PoolLimits | None = None) -> None:
        self.limits = limits or PoolLimits()
        self._by_signer: dict[str, dict[int, Pending]] = {}
        self._by_hash: dict[bytes, Pending] = {}
        #: future entries, oldest first (dicts keep insertion order)
        self._future: dict[bytes, Pending] = {}
        self._fees: dict[str, int] = {}
        self.bytes = 0
        self.future_bytes = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    @property
    def future_count(self) -> int:
        return len(self._future)

    def get(self, ext_hash: bytes) -> Pending | None:
        return self._by_hash.get(ext_hash)

    def pending_fees(self, signer: str) -> int:
        return self._fees.get(signer, 0)

    def add(
        self, ext: Checked, account_nonce: int, balance: int, fee: int, weight: int, head: int
    ) -> Pending:
        """Admit ``ext`` or raise a typed error (nonce, duplicate, payment, limits)."""
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
        queue = self._by_signer.get(ext.signer, {})
        if ext.nonce in queue:
            raise chain_error(
                "duplicate_extrinsic",
                f"nonce {ext.nonce} of {ext.signer} is already pending in another extrinsic; "
                "use the next nonce",
            )
        if len(queue) >= self.limits.max_per_account:
            raise chain_error(
                "account_pool_full",
                f"{ext.signer} already has {len(queue)} extrinsics pending (the most one "
                "account may have); wait for a block to include some",
            )
        owed = self._fees.get(ext.signer, 0) + fee
        if owed > balance:
            raise chain_error(
                "cannot_pay",
                f"{ext.signer} has {balance} rao but its pending extrinsics with this one owe "
                f"{owed} rao in fees; fund the account or wait for pending ones to be included",
            )
        before = queue.get(ext.nonce - 1)
        ready = ext.nonce == account_nonce or (before is not None and before.ready)
        self._make_room(ext.raw, ready)  # may evict this signer's own gapped entries
        pending = Pending(ext, asyncio.get_running_loop().create_future(), fee, weight, head)
        self._by_signer.setdefault(ext.signer, queue)[ext.nonce] = pending
        self._by_hash[ext.hash] = pending
        self._fees[ext.signer] = self._fees.get(ext.signer, 0) + fee
        self.bytes += pending.size
        if ready:
            pending.ready = True
            nonce = ext.nonce + 1
            while (nxt := queue.get(nonce)) is not None and not nxt.ready:
                self._set_ready(nxt)
                nonce += 1
        else:
            self._set_future(pending)
        return pending

    def _make_room(self, raw: bytes, ready: bool) -> None:
        lim = self.limits
        if not ready:
            while self._future and (
                len(self._future) + 1 > lim.max_future_count
                or self.future_bytes + len(raw) > lim.max_future_bytes
            ):
                self._evict_oldest_future()
            if len(raw) > lim.max_future_bytes:
                raise chain_error(
                    "pool_full", "this extrinsic is larger than the pool's space for nonce gaps"
                )
        while len(self._by_hash) + 1 > lim.max_count or self.bytes + len(raw) > lim.max_bytes:
            if not self._future:
                raise chain_error("pool_full", "the extrinsic pool is full; retry after a block")
            self._evict_oldest_future()

    def _evict_oldest_future(self) -> None:
        oldest = next(iter(self._future.values()))
        self.remove(oldest)
        _fail(oldest, chain_error("pool_full", "dropped from the full pool while behind a gap"))

    def _set_ready(self, pending: Pending) -> None:
        if self._future.pop(pending.ext.hash, None) is not None:
            self.future_bytes -= pending.size
        pending.ready = True

    def _set_future(self, pending: Pending) -> None:
        pending.ready = False
        if pending.ext.hash not in self._future:
            self._future[pending.ext.hash] = pending
            self.future_bytes += pending.size

    def snapshot(self) -> list[list[Pending]]:
        """Per signer (in arrival order), the ready extrinsics sorted by nonce."""
        out = []
        for queue in self._by_signer.values():
            ready = [queue[n] for n in sorted(queue) if queue[n].ready]
            if ready:
                out.append(ready)
        return out

    def remove(self, pending: Pending) -> None:
        if self._by_hash.pop(pending.ext.hash, None) is None:
            return
        self.bytes -= pending.size
        if self._future.pop(pending.ext.hash, None) is not None:
            self.future_bytes -= pending.size
        signer = pending.ext.signer
        left = self._fees.get(signer, 0) - pending.fee
        if left > 0:
            self._fees[signer] = left
        else:
            self._fees.pop(signer, None)
        queue = self._by_signer.get(signer)
        if queue is not None:
            queue.pop(pending.ext.nonce, None)
            if not queue:
                del self._by_signer[signer]

    def after_block(
        self, signers: Iterable[str], next_nonce: Callable[[str], int], head: int
    ) -> None:
        """Relabel ``signers``' entries ready/future against their new nonces, then drop every
        future entry that has waited more than ``future_ttl_blocks`` (``future_expired``)."""
        for signer in signers:
            queue = self._by_signer.get(signer)
            if not queue:
                continue
            expected = next_nonce(signer)
            for nonce in sorted(queue):
                pending = queue[nonce]
                if nonce < expected:  # used by another extrinsic with the same nonce
                    self.remove(pending)
                    _fail(pending, chain_error("stale_nonce", f"nonce {nonce} was used"))
                elif nonce == expected:
                    self._set_ready(pending)
                    expected += 1
                elif not pending.ready:
                    continue
                else:  # its predecessor left without being included: it waits from now on
                    pending.since = head
                    self._set_future(pending)
        ttl = self.limits.future_ttl_blocks
        expired = [p for p in self._future.values() if head - p.since > ttl]
        for pending in expired:
            self.remove(pending)
            _fail(
                pending,
                chain_error(
                    "future_expired",
                    f"nonce {pending.ext.nonce} of {pending.ext.signer} waited {ttl} blocks "
                    f"for nonce {next_nonce(pending.ext.signer)}; send the missing nonces",
                ),
            )

    def drain(self) -> list[Pending]:
        items = list(self._by_hash.values())
        self._by_hash.clear()
        self._by_signer.clear()
        self._future.clear()
        self._fees.clear()
        self.bytes = self.future_bytes = 0
        return items


def _fail(pending: Pending, exc: ChainError) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)
        pending.future.exception()  # mark retrieved: nobody may be waiting

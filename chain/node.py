"""The chain node without networking: state, pool, block production, persistence, queries.

:class:`ChainNode` owns the in-memory state and is the only writer. Producing a block runs the
block executor in a worker thread (the epoch's torch work included, so the event loop stays
free), then writes the block in one SQLite transaction, and only then resolves the receipts of
the extrinsics it included. Head queries read the live state between blocks and the last
committed block from the store while one is built (:meth:`ChainNode.query`), so they always see
a whole committed block, never half of one, and never wait for a block.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from subnetkit.chain import blocks, extrinsic, fees
from subnetkit.chain.builder import (
    MAX_APPLY_SECONDS,
    MAX_BLOCK_EXTRINSICS,
    BlockHead,
    BlockLimits,
    Built,
    build_block,
)
from subnetkit.chain.datadir_lock import DataDirLock
from subnetkit.chain.errors import chain_error
from subnetkit.chain.gc_pause import GcPause
from subnetkit.chain.genesis import GenesisConfig, dev_genesis, genesis_state
from subnetkit.chain.mempool import Mempool, Pending, PoolLimits
from subnetkit.chain.past_state import PastReader
from subnetkit.chain.read_share import ReadShare
from subnetkit.chain.state import State
from subnetkit.chain.store import ChainStore
from subnetkit.core.errors import ChainError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

log = logging.getLogger(__name__)
T = TypeVar("T")


class ChainNode:
    def __init__(
        self,
        data_dir: Path | str,
        *,
        genesis: GenesisConfig | None = None,
        dev: bool = True,
        keep_blocks: int = 256,
        durable: bool = False,
        max_block_extrinsics: int = MAX_BLOCK_EXTRINSICS,
        pool_limits: PoolLimits | None = None,
        max_block_weight: int | None = None,
        max_apply_seconds: float = MAX_APPLY_SECONDS,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._genesis_wanted = genesis
        self._dev = dev
        self.store = ChainStore(self.data_dir, keep_blocks=keep_blocks, durable=durable)
        self._lock = DataDirLock(self.data_dir)
        #: admission and pacing of queries (chain/read_share.py)
        self.reads = ReadShare()
        self.past = PastReader(self.store.path, keep_blocks, self.reads)
        #: what a block may hold; the weight and byte caps come from the genesis at open
        #: unless ``max_block_weight`` is given here
        self.limits = BlockLimits(
            max_block_extrinsics, max_block_weight or fees.MAX_BLOCK_WEIGHT, max_apply_seconds
        )
        self._weight_given = max_block_weight is not None
        self.pool = Mempool(pool_limits)
        self._gc = GcPause()
        self.lock = asyncio.Lock()
        self.state = State()
        self.genesis: GenesisConfig = GenesisConfig()
        self.genesis_hash = b""
        self.head = pb.BlockHeader()
        self.halted: BaseException | None = None
        self._subscribers: set[asyncio.Queue[pb.Block | None]] = set()
        self.on_submitted: Callable[[], None] | None = None
        #: called in the builder's thread once a block's extrinsics are applied to the live
        #: state and before it is committed (a test holds a block in progress with it)
        self.on_block_applied: Callable[[int], None] | None = None
        #: a block is being built: head queries read the last committed block from the store
        self._building = False
        #: head queries reading the live state right now; a block waits for them to finish
        self._live_readers = 0
        self._live_idle = asyncio.Event()
        self._live_idle.set()

    # -- lifecycle -----------------------------------------------------------------------------
    async def open(self) -> None:
        """Lock the data dir, open the store, then create genesis or resume from the head.

        Every storage fault found here is typed (``state_corrupt``, ``storage_error``, a
        ConfigError for what the user must change) and leaves nothing open or locked.
        """
        self._lock.acquire()
        try:
            await self.store.open()
            try:
                stored = await self.store.get_meta("genesis")
                head = await self.store.head_number()
                if stored is None and head is None:
                    await self._create_genesis()
                elif stored is None or head is None:
                    raise chain_error(
                        "state_corrupt",
                        f"{self.store.path} has "
                        + ("blocks but no genesis" if stored is None else "no blocks")
                        + "; restore the data dir from a backup or start from a fresh directory",
                    )
                else:
                    await self._resume(stored.decode(), head)
                schedule = self.genesis.fees
                self.limits = dataclasses.replace(
                    self.limits,
                    max_weight=self.limits.max_weight
                    if self._weight_given
                    else schedule.max_block_weight,
                    max_bytes=schedule.max_block_bytes,
                )
            except sqlite3.Error as exc:
                raise self.store.fault(exc, "reading the chain at start") from None
        except BaseException:
            self._gc.after_block(0)  # hand any frozen objects back to the collector
            await self.store.close()
            await asyncio.to_thread(self.past.close)
            self._lock.release()
            raise

    async def _create_genesis(self) -> None:
        cfg = self._genesis_wanted or (dev_genesis() if self._dev else GenesisConfig())
        state = genesis_state(cfg)
        header = blocks.make_header(0, blocks.ZERO, cfg.timestamp_ms, [], state.root)
        await self.store.write_genesis(cfg.to_json(), pb.Block(header=header), list(state.rows()))
        self.genesis, self.state, self.head, self.genesis_hash = cfg, state, header, header.hash
        log.info(
            "created genesis %s (dev=%s) in %s", header.hash.hex()[:16], cfg.dev, self.data_dir
        )

    async def _resume(self, genesis_json: str, number: int) -> None:
        self.genesis = GenesisConfig.from_json(genesis_json)
        self.genesis_hash = await self.store.get_meta("genesis_hash") or b""
        block = await self.store.get_block(number)
        if block is None or block.header.number != number:
            raise chain_error(
                "state_corrupt", f"head block {number} in {self.store.path} does not read back"
            )
        rows = await self.store.state_rows()
        self.state = await asyncio.to_thread(State.from_rows, rows)
        if self.state.root != block.header.state_root:
            raise chain_error(
                "state_corrupt",
                f"state rebuilt from {self.store.path} has root {self.state.root.hex()} but block "
                f"{number} says {block.header.state_root.hex()}; restore the data dir or replay",
            )
        self.head = block.header
        log.info("resumed at block %d (state root %s)", number, self.state.root.hex()[:16])

    async def close(self) -> None:
        async with self.lock:
            for pending in self.pool.drain():
                if not pending.future.done():
                    pending.future.set_exception(
                        chain_error("shutting_down", "the chain stopped before including this")
                    )
                    pending.future.exception()  # mark retrieved: nobody may be waiting
            for queue in list(self._subscribers):
                queue.put_nowait(None)
            self._gc.after_block(0)  # hand any frozen objects back to the collector
            await self.store.close()
            await asyncio.to_thread(self.past.close)
            self._lock.release()

    def _check_running(self) -> None:
        if isinstance(self.halted, ChainError):  # a storage fault: say it again, same code
            raise chain_error(self.halted.code, f"the chain halted: {self.halted.message}")
        if self.halted is not None:
            raise chain_error(
                "internal",
                f"the chain halted after an internal error ({self.halted!r}); restart it",
            )

    # -- submission ----------------------------------------------------------------------------
    def _check_all(self, exts: Sequence[pb.Extrinsic]) -> list[extrinsic.Checked | ChainError]:
        out: list[extrinsic.Checked | ChainError] = []
        for ext in exts:
            size = ext.ByteSize()
            if size > self.genesis.fees.max_extrinsic_bytes:
                out.append(
                    chain_error(
                        "extrinsic_too_large",
                        f"the extrinsic is {size} bytes; the most a block takes is "
                        f"{self.genesis.fees.max_extrinsic_bytes} (split the call)",
                    )
                )
                continue
            try:
                out.append(extrinsic.check(ext, self.genesis_hash))
            except ChainError as exc:
                out.append(exc)
        return out

    async def submit(self, exts: Sequence[pb.Extrinsic]) -> list[Pending | ChainError]:
        """Verify (in a worker thread) and admit to the pool; per extrinsic a Pending or error."""
        self._check_running()
        with self.reads.writing():
            checked = await asyncio.to_thread(self._check_all, exts)
        results: list[Pending | ChainError] = []
        for item in checked:
            if isinstance(item, ChainError):
                results.append(item)
                continue
            try:
                results.append(self._admit(item))
            except ChainError as exc:
                results.append(exc)
        if self.on_submitted is not None and any(isinstance(r, Pending) for r in results):
            self.on_submitted()
        return results

    def _admit(self, item: extrinsic.Checked) -> Pending:
        """Into the pool if the signer can pay for it and all its other pending extrinsics.

        Reads the head state on the loop while a block may be applying in a worker: admission
        is a filter, and inclusion checks nonce and fee again against the block's own state.
        """
        acct = self.state.get("acct", (item.signer,))
        nonce, balance = (acct.nonce, acct.balance) if acct is not None else (0, 0)
        weight = fees.weight(item.call)
        due = fees.fee_due(self.state, item.signer, item.call, len(item.raw))
        kind = item.call.WhichOneof("kind") or ""
        if due > balance and kind in fees.FREE_FOR_REGISTERED:
            raise chain_error(
                "not_registered",
                f"{item.signer} is not registered on subnet {getattr(item.call, kind).netuid}, "
                f"where {kind} would be free, and cannot pay its {due} rao fee; register it",
            )
        return self.pool.add(item, nonce, balance, due, weight, self.head.number)

    async def receipt(self, ext_hash: bytes, *, wait: bool) -> pb.Receipt | None:
        pending = self.pool.get(ext_hash)
        if pending is not None:
            if not wait:
                return None
            return await asyncio.shield(pending.future)
        return await self.store.get_receipt(ext_hash)

    # -- block production ----------------------------------------------------------------------
    def _next_nonce(self, signer: str) -> int:
        acct = self.state.get("acct", (signer,))
        return acct.nonce if acct else 0

    async def _build_and_commit(self) -> Built:
        """Apply the pool to the live state in a worker thread, then commit the block."""
        number = self.head.number + 1
        timestamp = max(int(time.time() * 1000), self.head.timestamp_ms)
        try:
            built = await asyncio.to_thread(
                build_block,
                self.state,
                self.limits,
                BlockHead(number, self.head.hash, timestamp),
                self.pool.snapshot(),
                self.on_block_applied,
            )
            try:
                await self.store.commit_block(built.block, built.rows, built.changes)
            except sqlite3.Error as exc:
                raise self.store.fault(exc, f"writing block {number}") from None
        except ChainError as exc:
            # A storage fault: typed, said once in one line (a traceback adds nothing);
            # memory is ahead of disk, so stop here; a restart resumes from the disk.
            self.halted = exc
            log.error("block %d not written, chain halted: [%s] %s", number, exc.code, exc)
            raise
        except BaseException as exc:
            # Memory is now ahead of (or inconsistent with) disk: stop accepting work; a
            # restart resumes from the last committed block.
            self.halted = exc
            log.exception("block %d failed; halting the chain", number)
            raise
        self.head = built.block.header
        return built

    async def produce_block(self) -> pb.Block:
        """Build, persist and publish the next block; resolve its receipts after the commit.

        While it builds, reads pace themselves (:mod:`chain.read_share`) and head queries read
        the last committed block from the store, so they neither wait for the block nor see
        half of it.
        """
        self._check_running()
        async with self.lock:
            self._check_running()
            with self.reads.writing():
                self._building = True  # head queries read the store from now on ...
                try:
                    await self._live_idle.wait()  # ... and those reading memory finish first
                    built = await self._build_and_commit()
                finally:
                    self._building = False
        touched = {p.ext.signer for p, _ in built.receipts}
        for pending, receipt in built.receipts:
            self.pool.remove(pending)
            if not pending.future.done():
                pending.future.set_result(receipt)
        for pending, error in built.dropped:
            touched.add(pending.ext.signer)
            self.pool.remove(pending)
            if not pending.future.done():
                pending.future.set_exception(error)
                pending.future.exception()
        self.pool.after_block(touched, self._next_nonce, self.head.number)
        self._gc.after_block(len(self.pool))
        self._publish(built.block)
        return built.block

    # -- subscriptions -------------------------------------------------------------------------
    def subscribe(self, maxsize: int = 1024) -> asyncio.Queue[pb.Block | None]:
        queue: asyncio.Queue[pb.Block | None] = asyncio.Queue(maxsize)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[pb.Block | None]) -> None:
        self._subscribers.discard(queue)

    def _publish(self, block: pb.Block) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(block)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)  # tell the slow reader it was dropped

    # -- queries -------------------------------------------------------------------------------
    async def query(
        self, at_block: int, fn: Callable[[State, int, bytes], T], caller: str = ""
    ) -> T:
        """Run ``fn(state, block_number, block_hash)`` at the head (0) or at a kept past block.

        Admitted first by :class:`chain.read_share.ReadShare` (``caller``'s share and the
        chain's cap, else ``busy``). ``fn`` runs in a worker thread, so a large answer (a
        metagraph with weights at n = 4096) never stalls the event loop. At the head it reads
        the live state when no block is being built (a block waits for such reads to finish
        before it changes the state, and none start meanwhile); while one is, it reads the last
        committed block from the store instead, so a head query never waits for a block and
        always sees one whole committed block. A past block's state is read from the store by
        :class:`chain.past_state.PastReader` on threads of its own, key by key.
        """
        with self.reads.admit(caller):
            head_query = at_block in (0, self.head.number)
            live = head_query and not self._building
            async with self.reads.turn("live" if live else "store"):
                # decided again now: a block may have started or ended while this waited
                if at_block == 0:
                    at_block = self.head.number  # the newest whole block; a numbered query
                    # reads its block even if a newer one was committed while it waited
                if at_block == self.head.number and not self._building:
                    return await self._read_live(fn)
                return await self._read_stored(at_block, fn)

    async def _read_stored(self, at_block: int, fn: Callable[[State, int, bytes], T]) -> T:
        if at_block > self.head.number:
            raise chain_error(
                "block_not_found", f"block {at_block} is ahead of the head {self.head.number}"
            )
        doing = f"reading the state at block {at_block}"
        try:
            return await self.past.read(at_block, fn)
        except sqlite3.Error as exc:
            raise self.store.read_fault(exc, doing) from None
        except ChainError as exc:
            if exc.code != "state_corrupt":
                raise
            raise self.store.read_fault(exc, doing) from None

    async def _read_live(self, fn: Callable[[State, int, bytes], T]) -> T:
        head = self.head
        self._live_readers += 1
        self._live_idle.clear()
        try:
            return await asyncio.to_thread(fn, self.state, head.number, head.hash)
        finally:
            self._live_readers -= 1
            if not self._live_readers:
                self._live_idle.set()

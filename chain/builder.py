"""Building one block from the pool: apply ready extrinsics until the block is full, then
encode the block, its events and receipts.

Runs in a worker thread: with thousands of extrinsics (or an epoch's torch work) this is the
CPU-heavy part of a block, and none of it may stall the event loop. A block is full by weight
and by bytes (:mod:`chain.fees`; after ``MAX_SKIPPED`` extrinsics that did not fit the builder
stops looking, as Substrate's basic-authorship does), by count, and by time: applying stops
once ``max_apply_seconds`` have passed, so a burst of 50,000 cheap extrinsics makes several
short blocks rather than one of several seconds, even on a machine slower than the weights
assume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from subnetkit.chain import blocks, fees
from subnetkit.chain.errors import chain_error
from subnetkit.chain.mempool import Pending
from subnetkit.chain.state import State
from subnetkit.chain.transition.block import BlockExecutor, NotIncludable, Outcome
from subnetkit.chain.transition.context import EventSink
from subnetkit.core.errors import ChainError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

#: most extrinsics one block includes; the rest wait for the next block
MAX_BLOCK_EXTRINSICS = 8192
#: after this many extrinsics that did not fit, the builder stops looking (Substrate's
#: basic-authorship MAX_SKIPPED_TRANSACTIONS)
MAX_SKIPPED = 8
#: seconds a block may spend applying extrinsics, whatever their weights say (a slower machine
#: than the weights assume still makes short blocks)
MAX_APPLY_SECONDS = 0.15


@dataclass(slots=True)
class Built:
    """A block built and encoded off the loop, ready to commit."""

    block: pb.Block
    #: each included extrinsic's pending entry and receipt, in block order
    receipts: list[tuple[Pending, pb.Receipt]]
    #: ``(idx, hash, raw extrinsic, serialised receipt)`` rows for the store
    rows: list[tuple[int, bytes, bytes, bytes]]
    #: extrinsics that can never go in (stale nonce, unpayable) with the reason
    dropped: list[tuple[Pending, ChainError]]
    changes: list[tuple[str, bytes | None]]


def _events(sink: EventSink) -> list[pb.Event]:
    return [
        pb.Event(
            name=name,
            data_json=EventSink.to_json(data),
            extrinsic_index=idx or 0,
            from_extrinsic=idx is not None,
        )
        for name, data, idx in sink.events
    ]


@dataclass(frozen=True, slots=True)
class BlockLimits:
    max_extrinsics: int = MAX_BLOCK_EXTRINSICS
    max_weight: int = fees.MAX_BLOCK_WEIGHT
    max_apply_seconds: float = MAX_APPLY_SECONDS
    max_bytes: int = fees.MAX_BLOCK_BYTES


@dataclass(frozen=True, slots=True)
class BlockHead:
    """What the new block builds on: its number, its parent's hash, its timestamp."""

    number: int
    parent_hash: bytes
    timestamp_ms: int


def build_block(
    state: State,
    limits: BlockLimits,
    head: BlockHead,
    snapshot: list[list[Pending]],
    on_applied: Callable[[int], None] | None = None,
) -> Built:
    """Apply the pool to the state and encode the block, its events and receipts.

    Runs in a worker thread: with thousands of extrinsics (or an epoch's torch work) this is
    the CPU-heavy part of a block, and none of it may stall the event loop. ``on_applied``
    (the block number) runs once the extrinsics are applied, before anything is encoded.
    """
    executor = BlockExecutor(state, head.number)
    executor.initialize()
    included: list[tuple[Pending, Outcome]] = []
    dropped: list[tuple[Pending, ChainError]] = []
    deadline = time.monotonic() + limits.max_apply_seconds
    weight = size = skipped = 0
    out_of_time = False
    for queue in snapshot:
        if skipped >= MAX_SKIPPED or out_of_time:
            break
        for pending in queue:
            # at least one extrinsic per block, however slow: the pool always drains
            if included and time.monotonic() > deadline:
                out_of_time = True
                break
            if len(included) >= limits.max_extrinsics:
                break
            if (
                weight + pending.weight > limits.max_weight
                or size + pending.size > limits.max_bytes
            ):
                skipped += 1  # full for this one; its signer's later nonces wait too
                break
            result = executor.try_apply(pending.ext)
            if isinstance(result, NotIncludable):
                if result.code != "future_nonce":
                    dropped.append((pending, chain_error(result.code, result.message)))
                    continue
                break  # a nonce gap: the rest of this signer's queue waits
            included.append((pending, result))
            weight += pending.weight
            size += pending.size
    if on_applied is not None:
        on_applied(head.number)
    changes = state.flush()
    ext_hashes = [p.ext.hash for p, _ in included]
    header = blocks.make_header(
        head.number, head.parent_hash, head.timestamp_ms, ext_hashes, state.root
    )
    events = _events(executor.sink)
    by_index: dict[int, list[pb.Event]] = {}
    for event in events:
        if event.from_extrinsic:
            by_index.setdefault(event.extrinsic_index, []).append(event)
    receipts = []
    rows = []
    for pending, outcome in included:
        receipt = pb.Receipt(
            extrinsic_hash=outcome.hash,
            block_number=head.number,
            block_hash=header.hash,
            index=outcome.index,
            success=outcome.success,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            events=by_index.get(outcome.index, ()),
            fee=outcome.fee,
        )
        receipts.append((pending, receipt))
        rows.append((outcome.index, outcome.hash, pending.ext.raw, receipt.SerializeToString()))
    block = pb.Block(header=header, extrinsic_hashes=ext_hashes, events=events)
    return Built(block, receipts, rows, dropped, changes)

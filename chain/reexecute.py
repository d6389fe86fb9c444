"""Re-execute every stored block from genesis and check each state root and block hash.

This is the proof that the chain is a deterministic function of its extrinsics: the genesis
config stored in the data dir rebuilds block 0, and each stored block's extrinsics, applied in
order by the same :class:`chain.runtime.block.BlockExecutor` the producer uses, must give the
same receipts (success and error code), the same state root and the same block hash.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from subnetkit.chain import blocks, extrinsic
from subnetkit.chain.errors import chain_error
from subnetkit.chain.genesis import GenesisConfig, genesis_state
from subnetkit.chain.state import State
from subnetkit.chain.store import ChainStore
from subnetkit.chain.transition.block import BlockExecutor, NotIncludable
from subnetkit.protos.chain.v1 import chain_pb2 as pb


@dataclass(frozen=True)
class ReexecutionReport:
    blocks: int
    extrinsics: int
    head: int
    state_root: bytes


def _execute(
    state: State, number: int, raws: list[tuple[bytes, pb.Receipt]], genesis_hash: bytes
) -> list[bytes]:
    executor = BlockExecutor(state, number)
    executor.initialize()
    hashes = []
    for raw, receipt in raws:
        checked = extrinsic.check(pb.Extrinsic.FromString(raw), genesis_hash)
        outcome = executor.try_apply(checked)
        if isinstance(outcome, NotIncludable):
            raise chain_error(
                "reexecution_mismatch",
                f"block {number}: extrinsic {checked.hash.hex()} not includable "
                f"({outcome.code}: {outcome.message})",
            )
        if (outcome.success, outcome.error_code) != (receipt.success, receipt.error_code):
            raise chain_error(
                "reexecution_mismatch",
                f"block {number}: extrinsic {checked.hash.hex()} gave "
                f"{outcome.success}/{outcome.error_code!r}, stored receipt says "
                f"{receipt.success}/{receipt.error_code!r}",
            )
        hashes.append(checked.hash)
    state.flush()
    return hashes


async def reexecute(data_dir: Path | str) -> ReexecutionReport:
    """Re-execute the chain in ``data_dir`` (safe while it runs: SQLite readers do not block it)."""
    store = ChainStore(Path(data_dir))
    await store.open(create=False)  # a path with no chain creates nothing
    try:
        raw_genesis = await store.get_meta("genesis")
        if raw_genesis is None:
            raise chain_error("block_not_found", f"no chain in {data_dir}: nothing to replay")
        genesis_hash = await store.get_meta("genesis_hash") or b""
        cfg = GenesisConfig.from_json(raw_genesis.decode())
        state = genesis_state(cfg)
        parent: pb.BlockHeader | None = None
        count = extrinsics = 0
        async for block in store.iter_blocks(0):
            stored = block.header
            number = stored.number
            if number == 0:
                header = blocks.make_header(0, blocks.ZERO, cfg.timestamp_ms, [], state.root)
            else:
                assert parent is not None
                raws = await store.block_extrinsics(number)
                hashes = await asyncio.to_thread(_execute, state, number, raws, genesis_hash)
                extrinsics += len(hashes)
                header = blocks.make_header(
                    number, parent.hash, stored.timestamp_ms, hashes, state.root
                )
            if header.state_root != stored.state_root:
                raise chain_error(
                    "reexecution_mismatch",
                    f"block {number}: replayed state root {header.state_root.hex()} != stored "
                    f"{stored.state_root.hex()}",
                )
            if header.hash != stored.hash:
                raise chain_error(
                    "reexecution_mismatch",
                    f"block {number}: replayed block hash differs from stored",
                )
            parent = header
            count += 1
        assert parent is not None
        return ReexecutionReport(count, extrinsics, parent.number, parent.state_root)
    finally:
        await store.close()

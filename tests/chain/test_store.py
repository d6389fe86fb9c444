"""ChainStore: WAL checkpoints run beside the writer after each block and keep the WAL small."""

from __future__ import annotations

import os
from pathlib import Path

from subnetkit.chain import blocks
from subnetkit.chain.store import ChainStore
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def _block(number: int) -> pb.Block:
    return pb.Block(header=blocks.make_header(number, blocks.ZERO, number, [], b"\0" * 32))


async def test_background_checkpoints_keep_the_wal_near_one_block(tmp_path: Path) -> None:
    store = ChainStore(tmp_path, keep_blocks=0)
    await store.open()
    try:
        await store.write_genesis("{}", _block(0), [("sys/x", b"0")])
        value = os.urandom(40_000)
        per_block = [(f"bonds/1/{uid}", value) for uid in range(64)]  # ~2.6 MB, ~640 pages
        for number in range(1, 11):
            await store.commit_block(_block(number), [], per_block)
            await store.checkpoint_done()
        wal = store.path.with_name(store.path.name + "-wal")
        # Without the background checkpoint the WAL would hold all ten blocks (~26 MB): the
        # writer's own threshold is far above that. Checkpointed, SQLite reuses it from the start.
        assert wal.stat().st_size < 3 * 2_600_000
        rows = dict(await store.state_rows())
        assert len(rows) == 65 and rows["bonds/1/63"] == value
    finally:
        await store.close()
    assert not store.path.with_name(store.path.name + "-wal").exists()  # last close folds it in

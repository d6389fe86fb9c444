"""MetagraphSync follows blocks: it refreshes on subnet events and each epoch, not per block."""

from __future__ import annotations

import asyncio

import pytest

from subnetkit.chain.metagraph import Metagraph, MetagraphDiff
from subnetkit.chain.sync import MetagraphSync
from subnetkit.testing import ChainHarness

pytestmark = pytest.mark.timeout(30)


async def test_refreshes_on_events_and_epochs_only(chain: ChainHarness) -> None:
    h = chain
    netuid, _ = await h.subnet(tempo=20)
    other, _ = await h.subnet()
    sync = MetagraphSync(h.client, netuid)
    diffs: list[MetagraphDiff] = []

    def on_change(old: Metagraph, new: Metagraph, change: MetagraphDiff) -> None:
        diffs.append(change)

    sync.subscribe(on_change)
    await sync.refresh()
    task = asyncio.create_task(sync.run())
    try:
        start = sync.refreshes
        head = await h.produce(3)  # quiet blocks: no refresh
        async with asyncio.timeout(5):
            await sync.wait_for_head(head - 1)
        assert sync.refreshes == start
        await h.register(other, 1)  # another subnet's event: no refresh
        [key] = await h.register(netuid, 1)
        async with asyncio.timeout(5):
            while key.ss58 not in sync.metagraph.hotkeys:
                await sync.wait_for_head(sync.head)
        assert sync.refreshes == start + 1
        assert diffs[-1].new_uids == [sync.metagraph.uid_of(key.ss58)]
        block = await h.produce_until_epoch(netuid)  # the epoch refreshes
        async with asyncio.timeout(5):
            while sync.metagraph.block < block:
                await sync.wait_for_head(sync.head)
        assert sync.refreshes == start + 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

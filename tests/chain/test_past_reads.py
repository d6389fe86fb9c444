"""Past-block reads do not stop blocks: they read only the keys they need from the store, on
reader threads of their own, without the block lock (their shares and priority:
test_read_share.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from subnetkit.chain.genesis import dev_genesis
from subnetkit.core.keys import Signer
from subnetkit.testing import TAO, ChainHarness, running_chain

ACCOUNTS = 2_000


@pytest.fixture
async def big(tmp_path: Path) -> AsyncIterator[tuple[ChainHarness, list[str]]]:
    """A chain whose genesis funds 2,000 extra accounts, with automine off."""
    cfg = dev_genesis()
    extra = [Signer.generate().ss58 for _ in range(ACCOUNTS)]
    balances = {**cfg.balances, **{who: (i + 1) * TAO for i, who in enumerate(extra)}}
    genesis = type(cfg)(**{**cfg.__dict__, "balances": balances})
    async with running_chain(tmp_path / "chain", automine=False, genesis=genesis) as chain:
        yield chain, extra


async def _transfer_in_block(chain: ChainHarness, dest: str, amount: int) -> int:
    arrived = asyncio.Event()
    chain.service.node.on_submitted = arrived.set
    task = asyncio.create_task(chain.client.transfer(chain.alice, dest, amount))
    async with asyncio.timeout(10):
        await arrived.wait()
    block = await chain.service.produce_block()
    async with asyncio.timeout(10):
        assert (await task).success
    return int(block.header.number)


async def test_many_past_reads_while_blocks_keep_coming_are_exact(
    big: tuple[ChainHarness, list[str]],
) -> None:
    chain, extra = big
    c = chain.client
    target = extra[7]  # starts with 8 TAO; each block below adds 1 TAO more
    expected = {0: 8 * TAO}
    for step in range(1, 6):
        number = await _transfer_in_block(chain, target, TAO)
        expected[number] = (8 + step) * TAO
    blocks = sorted(b for b in expected if b)

    async def read(i: int) -> tuple[int, int]:
        at = blocks[i % len(blocks)]
        return at, await c.balance(target, at_block=at)

    reads = [asyncio.create_task(read(i)) for i in range(48)]
    produced = 0
    while not all(r.done() for r in reads) and produced < 200:
        await _transfer_in_block(chain, extra[produced % 50], 1)  # blocks keep coming
        produced += 1
    async with asyncio.timeout(30):
        answers = await asyncio.gather(*reads)
    assert all(balance == expected[at] for at, balance in answers), answers
    # an account untouched since genesis, read at a past block, from stored rows only
    assert await c.balance(extra[1999], at_block=blocks[0]) == 2000 * TAO
    assert await c.balance(Signer.generate().ss58, at_block=blocks[0]) == 0

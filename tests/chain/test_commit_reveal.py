"""Commit-reveal round trip: commit a hash, reveal with the salt in the reveal epoch."""

from __future__ import annotations

import pytest

from subnetkit.core.errors import ChainError
from subnetkit.testing import ChainHarness


async def _code(coro: object) -> str:
    with pytest.raises(ChainError) as info:
        await coro  # type: ignore[misc]
    return info.value.code


async def test_commit_then_reveal_in_the_next_epoch_sets_weights(chain: ChainHarness) -> None:
    c = chain.client
    netuid, owner = await chain.subnet(commit_reveal=True, weights_rate_limit=0)
    await chain.register(netuid, 2)
    uids, weights, salt = [1, 2], [30000, 65535], b"pepper-1"
    committed = await c.commit_weights(owner, netuid, uids, weights, salt)
    assert [e.name for e in committed.events] == ["WeightsCommitted"]
    reveal_from = int(__import__("json").loads(committed.events[0].data_json)["reveal_from_block"])

    # Too early: still in the commit's own epoch.
    assert await _code(c.reveal_weights(owner, netuid, uids, weights, salt)) == "reveal_too_early"
    # Move into the reveal epoch (RevealPeriodEpochs = 1).
    await chain.produce(reveal_from - chain.service.head.number - 1)
    # The wrong salt matches no commit and is refused; nothing is stored.
    code = await _code(c.reveal_weights(owner, netuid, uids, weights, b"wrong-salt"))
    assert code == "no_matching_commit"
    mg = await c.metagraph(netuid, with_weights=True)
    assert mg.weights_u16.sum().item() == 0

    receipt = await c.reveal_weights(owner, netuid, uids, weights, salt)
    assert receipt.block_number >= reveal_from
    assert "WeightsRevealed" in [e.name for e in receipt.events]
    mg = await c.metagraph(netuid, with_weights=True)
    assert mg.weights_u16[0].tolist() == [0, 30000, 65535]
    # A commit is revealed once.
    assert await _code(c.reveal_weights(owner, netuid, uids, weights, salt)) == "no_matching_commit"


async def test_unrevealed_commit_expires(chain: ChainHarness) -> None:
    c = chain.client
    netuid, owner = await chain.subnet(commit_reveal=True, weights_rate_limit=0, tempo=4)
    await chain.register(netuid, 1)
    await c.commit_weights(owner, netuid, [1], [1], b"s")
    await chain.produce(12)  # past commit epoch + 1
    assert await _code(c.reveal_weights(owner, netuid, [1], [1], b"s")) == "commit_expired"


async def test_commit_errors(chain: ChainHarness) -> None:
    c = chain.client
    netuid, owner = await chain.subnet(commit_reveal=True, weights_rate_limit=5)
    await chain.register(netuid, 1)
    await c.commit_weights(owner, netuid, [1], [1], b"a")
    assert await _code(c.commit_weights(owner, netuid, [1], [2], b"b")) == "rate_limited"
    off, owner_off = await chain.subnet(commit_reveal=False)
    code = await _code(c.commit_weights(owner_off, off, [0], [1], b"a"))
    assert code == "commit_reveal_disabled"

"""A full subnet replaces its lowest-pruning-score neuron, but never one still immune."""

from __future__ import annotations

import pytest

from subnetkit.chain.metagraph import diff
from subnetkit.core.errors import ChainError
from subnetkit.core.keys import Signer
from subnetkit.testing import ChainHarness


async def test_full_subnet_respects_immunity_then_replaces_lowest_pruning_score(
    chain: ChainHarness,
) -> None:
    c = chain.client
    netuid, owner = await chain.subnet(max_allowed_uids=3, immunity_period=6, tempo=4)
    first = await chain.register(netuid, 2)  # uids 1, 2 (the owner holds uid 0)
    before = await c.metagraph(netuid)
    newcomer = Signer.generate()
    with pytest.raises(ChainError) as info:
        await c.burned_register(chain.bob, netuid, newcomer.ss58)
    assert info.value.code == "registrations_full"
    assert "immunity ends at block" in info.value.message

    # Give uid 2 a better score: the owner weights it, an epoch runs.
    await c.sudo_set_hyperparameter(chain.alice, netuid, "commit_reveal_weights_enabled", 0)
    await chain.produce(6)
    await c.set_weights(owner, netuid, [2], [65535])
    await chain.produce_until_epoch(netuid)
    mg = await c.metagraph(netuid)
    assert mg.pruning_score[2] > mg.pruning_score[1]

    uid = await c.burned_register(chain.bob, netuid, newcomer.ss58)
    assert uid == 1  # lowest pruning score outside immunity; the owner is never pruned
    after = await c.metagraph(netuid, with_weights=True)
    assert after.hotkeys[1] == newcomer.ss58 and after.n == 3
    assert after.block_at_registration[1] == chain.service.head.number
    assert await c.uid_for_hotkey(netuid, first[0].ss58) is None
    change = diff(before, after)
    assert change.replaced == [(1, first[0].ss58, newcomer.ss58)]
    assert change.deregistered == [first[0].ss58]
    assert change.new_uids == []

    # The newcomer is immune now; uid 2 is the only candidate left.
    third = Signer.generate()
    assert await c.burned_register(chain.bob, netuid, third.ss58) == 2

"""All payout mechanisms on a real chain service: signed extrinsics, epochs, restart, replay."""

from __future__ import annotations

from pathlib import Path

from subnetkit.chain.genesis import dev_genesis
from subnetkit.chain.reexecute import reexecute
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.testing import TAO, running_chain

U64_MAX = 2**64 - 1


async def test_dynamic_schedule_root_delegation_childkeys_survive_restart_and_replay(
    tmp_path: Path,
) -> None:
    data = tmp_path / "chain"
    cfg = dev_genesis(
        timestamp_ms=0, epoch_schedule="dynamic", root=True, delegation=True, childkeys=True
    )
    dave, eve = dev_signer("dave"), dev_signer("eve")
    async with running_chain(data, genesis=cfg) as chain:
        c = chain.client
        info = await c.info()
        assert info.epoch_schedule == "dynamic" and info.root and info.delegation
        netuid, _ = await chain.subnet(weights_rate_limit=0)
        validator, child = Signer.generate(), Signer.generate()
        await c.burned_register(chain.charlie, netuid, validator.ss58)  # uid 1
        await c.burned_register(eve, netuid, child.ss58)  # uid 2
        await chain.register(netuid, 2)  # uids 3, 4
        await c.add_stake(chain.charlie, netuid, validator.ss58, 50 * TAO)
        # bob nominates charlie's validator; dave stakes TAO on root behind it
        await c.add_stake(chain.bob, netuid, validator.ss58, 10 * TAO)
        await c.add_stake(dave, 0, validator.ss58, 500 * TAO)
        # the validator lends a quarter of its weight to eve's child hotkey, which keeps 5%
        await c.set_children(chain.charlie, netuid, validator.ss58, [(child.ss58, U64_MAX // 4)])
        await c.set_childkey_take(eve, netuid, child.ss58, 3276)
        await chain.produce_until_epoch(netuid)  # permits by stake
        for hk in (validator, child):
            await c.set_weights(hk, netuid, [3, 4], [65535, 32768])
        bob_before = await c.stake(netuid, validator.ss58, chain.bob.ss58)
        due = await c.trigger_epoch(chain.alice, netuid)
        await chain.produce(due - chain.service.head.number)
        await chain.produce_until_epoch(netuid)
        await chain.produce_until_epoch(netuid)

        mg = await c.metagraph(netuid)  # stakes in TAO / alpha units
        assert float(mg.tao_stake[1]) == 500
        # the epoch's stake: the validator lent a quarter to the child
        assert float(mg.S[2]) > float(mg.alpha_stake[2])
        assert float(mg.S[1]) < float(mg.alpha_stake[1]) + 500
        assert await c.stake(netuid, validator.ss58, chain.bob.ss58) > bob_before
        sub = await c.subnet_info(netuid)
        assert sub.root_proportion_u64 > 0
        detail = await c.stake_detail(netuid, validator.ss58, chain.bob.ss58)
        assert detail.delegate_take == 11796 and detail.hotkey_total > detail.alpha
        head = chain.service.head
        number, root = int(head.number), bytes(head.state_root)
        dave_alpha = await c.stake(netuid, validator.ss58, dave.ss58)
        assert dave_alpha > 0  # root dividends, paid as alpha on the subnet
    async with running_chain(data) as chain:
        assert chain.service.head.number == number
        assert chain.service.head.state_root == root
        assert await chain.client.stake(netuid, validator.ss58, dave.ss58) == dave_alpha
        await chain.produce(12)  # carries on: another epoch under the stored genesis
    report = await reexecute(data)
    assert report.head == number + 12

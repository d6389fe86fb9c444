"""Provisioning a fresh dev chain: subnet, wallets on disk, funds, registrations, stake."""

from __future__ import annotations

from pathlib import Path

from subnetkit.core.wallet import load_hotkey
from subnetkit.localnet.naming import plan_neurons
from subnetkit.localnet.provision import EXTRA_FUNDS_TAO, TAO, provision, validator_stakes
from subnetkit.testing import running_chain


async def test_provision_registers_every_planned_neuron_in_order(tmp_path: Path) -> None:
    # 7 neurons: more than the five funded dev accounts, so two coldkeys are funded by transfer.
    plans = plan_neurons(miners=5, validators=2, variants=("good", "noisy", "random"))
    wallets = tmp_path / "wallets"
    async with running_chain(tmp_path / "chain") as chain:
        net = await provision(chain.client, plans, wallets, tempo=7, commit_reveal=False)
        info = await chain.client.subnet_info(net.netuid)
        hp = await chain.client.hyperparameters(net.netuid)
        assert hp["tempo"] == 7 and hp["commit_reveal_weights_enabled"] == 0
        assert not net.commit_reveal
        assert info.n == 1 + len(plans)  # the owner hotkey is uid 0
        assert [n.uid for n in net.neurons] == list(range(1, 8))
        assert [n.name for n in net.neurons] == [p.name for p in plans]
        for n in net.neurons:
            on_chain = await chain.client.neuron(net.netuid, uid=n.uid)
            assert on_chain is not None and on_chain.hotkey == n.hotkey.ss58
            # the neuron process will load exactly this hotkey from the wallet on disk
            assert load_hotkey(n.name, path=wallets).ss58 == n.hotkey.ss58
            stake = await chain.client.stake(net.netuid, n.hotkey.ss58)
            assert (stake > 0) == (n.plan.role == "validator")
        stakes = [
            await chain.client.stake(net.netuid, n.hotkey.ss58)
            for n in net.neurons
            if n.plan.role == "validator"
        ]
        assert max(stakes) < 1.1 * min(stakes)  # comparable weight in consensus
        extra = [n for n in net.neurons if n.coldkey_uri.startswith("//localnet//")]
        assert len(extra) == 2
        for n in extra:
            balance = await chain.client.balance(n.coldkey.ss58)
            assert 0 < balance < EXTRA_FUNDS_TAO * TAO  # funded, then paid the burn


async def test_provision_keeps_commit_reveal_on_by_default(tmp_path: Path) -> None:
    async with running_chain(tmp_path / "chain") as chain:
        net = await provision(chain.client, plan_neurons(1, 1), tmp_path / "w")
        assert net.commit_reveal
        assert [n.name for n in net.neurons] == ["validator-0", "miner-0"]


def test_validator_stakes_buy_equal_alpha_on_a_constant_product_pool() -> None:
    tao_in, alpha_in = 100 * TAO, 100 * TAO
    amounts = validator_stakes(tao_in, alpha_in, 3)
    bought = []
    for tao in amounts:  # the chain's swap: alpha_in * t // (tao_in + t)
        alpha = alpha_in * tao // (tao_in + tao)
        bought.append(alpha)
        tao_in, alpha_in = tao_in + tao, alpha_in - alpha
    assert amounts[0] < amounts[1] < amounts[2]  # the price rises as they buy
    assert all(abs(a - 50 * TAO // 3) <= 1 for a in bought)


async def test_provision_gives_each_mechanism_something_to_pay(tmp_path: Path) -> None:
    from subnetkit.chain.genesis import dev_genesis
    from subnetkit.core.keys import dev_signer
    from subnetkit.localnet.runner import LocalnetConfig, chain_argv

    cfg = LocalnetConfig(epoch_schedule="dynamic", mechanisms=("root", "delegation", "childkeys"))
    cfg.check()
    flags = chain_argv(tmp_path, 0.25, cfg.genesis_flags())
    assert flags[-5:] == ["--root", "--delegation", "--childkeys", "--epoch-schedule", "dynamic"]
    genesis = dev_genesis(epoch_schedule="dynamic", root=True, delegation=True, childkeys=True)
    async with running_chain(tmp_path / "chain", genesis=genesis) as chain:
        net = await provision(chain.client, plan_neurons(1, 2), tmp_path / "w")
        c = chain.client
        alice = dev_signer("alice").ss58
        first, second = [k for k in net.neurons if k.plan.role == "validator"]
        for k in (first, second):
            assert await c.stake(0, k.hotkey.ss58, alice) == 100 * 1_000_000_000
            assert await c.stake(net.netuid, k.hotkey.ss58, alice) > 0  # a nomination
        mg = await c.metagraph(net.netuid)
        # the first validator lends a tenth of its stake weight to the second
        assert float(mg.S[first.uid]) < float(mg.alpha_stake[first.uid]) + 100
        assert float(mg.S[second.uid]) > float(mg.alpha_stake[second.uid])

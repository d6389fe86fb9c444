"""Every call against a real chain service: its success, and each typed refusal."""

from __future__ import annotations

import pytest

from subnetkit.chain import extrinsic
from subnetkit.chain.hyperparams import DEV_OVERRIDES
from subnetkit.core.errors import ChainError, NotRegisteredError
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, ChainHarness


async def expect(code: str, coro: object) -> ChainError:
    with pytest.raises(ChainError) as info:
        await coro  # type: ignore[misc]
    assert info.value.code == code, info.value.message
    assert info.value.message
    return info.value


# -- transfer, signatures, nonces ------------------------------------------------------------------
async def test_transfer_moves_balance_and_reports_events(chain: ChainHarness) -> None:
    c = chain.client
    dest = Signer.generate().ss58
    await chain.produce(1)  # at_block=0 means "head", so keep the transfer off block 1
    before = await c.balance(chain.alice.ss58)
    receipt = await c.transfer(chain.alice, dest, 3 * TAO)
    assert receipt.success and receipt.block_number == chain.service.head.number
    assert [e.name for e in receipt.events] == ["TransactionFeePaid", "Transfer"]
    assert await c.balance(dest) == 3 * TAO
    assert receipt.fee > 0
    assert await c.balance(chain.alice.ss58) == before - 3 * TAO - receipt.fee
    # Past-block query: before the transfer the destination held nothing.
    assert await c.balance(dest, at_block=receipt.block_number - 1) == 0


async def test_transfer_errors(chain: ChainHarness) -> None:
    c = chain.client
    poor = Signer.generate()
    # With nothing to pay the fee the pool refuses it: no nonce used, nothing stored.
    await expect("cannot_pay", c.transfer(poor, chain.alice.ss58, TAO))
    assert await c.nonce(poor.ss58) == 0
    await c.transfer(chain.alice, poor.ss58, TAO // 100)
    err = await expect("insufficient_balance", c.transfer(poor, chain.alice.ss58, TAO))
    assert "fund the coldkey" in err.message
    # The failed call still used its nonce and paid its fee, as on subtensor.
    assert await c.nonce(poor.ss58) == 1
    assert await c.balance(poor.ss58) == TAO // 100 - await chain.fees_paid(poor.ss58, 0)
    await expect("bad_address", c.transfer(chain.alice, "not-an-address", TAO))
    await expect("bad_argument", c.transfer(chain.alice, poor.ss58, 0))


async def test_bad_signature_and_stale_nonce_are_refused_at_the_pool(chain: ChainHarness) -> None:
    c = chain.client
    call = pb.Call(transfer=pb.Transfer(dest=chain.bob.ss58, amount=1))
    ext = await c.sign(chain.alice, call)
    forged = pb.Extrinsic()
    forged.CopyFrom(ext)
    forged.call = pb.Call(
        transfer=pb.Transfer(dest=chain.bob.ss58, amount=10**15)
    ).SerializeToString()
    with pytest.raises(ChainError) as info:
        await c._call("SubmitExtrinsic", pb.SubmitExtrinsicRequest(extrinsic=forged), 5)
    assert info.value.code == "bad_signature"
    # Signed for another chain (other genesis) also fails the signature check.
    other = extrinsic.build(chain.alice, ext.nonce, call, b"\x01" * 32)
    with pytest.raises(ChainError) as info:
        await c._call("SubmitExtrinsic", pb.SubmitExtrinsicRequest(extrinsic=other), 5)
    assert info.value.code == "bad_signature"
    # The genuine one goes in; replaying it is a stale nonce.
    results = await c.submit_batch([ext])
    assert results[0].receipt.success
    again = await c.submit_batch([ext])
    assert again[0].error_code == "stale_nonce"


async def test_burst_with_out_of_order_nonces_is_all_included(chain: ChainHarness) -> None:
    c = chain.client
    dest = Signer.generate().ss58
    exts = [
        await c.sign(chain.alice, pb.Call(transfer=pb.Transfer(dest=dest, amount=5)))
        for _ in range(20)
    ]
    results = await c.submit_batch(list(reversed(exts)), wait=True)
    assert all(r.receipt.success for r in results), results
    assert await c.balance(dest) == 100


# -- subnets, hyperparameters ----------------------------------------------------------------------
async def test_create_subnet_and_hyperparameters(chain: ChainHarness) -> None:
    c = chain.client
    info = await c.info()
    before = await c.balance(chain.bob.ss58)
    hotkey = Signer.generate()
    netuid = await c.create_subnet(chain.bob, hotkey.ss58)
    fee = await chain.fees_paid(chain.bob.ss58, info.head.number)
    assert await c.balance(chain.bob.ss58) == before - info.subnet_lock_cost - fee
    sub = await c.subnet_info(netuid)
    assert sub.owner_coldkey == chain.bob.ss58 and sub.owner_hotkey == hotkey.ss58
    assert sub.n == 1 and await c.uid_for_hotkey(netuid, hotkey.ss58) == 0
    hp = await c.hyperparameters(netuid)
    assert hp["tempo"] == DEV_OVERRIDES["tempo"] and hp["kappa"] == 32767
    assert hp["commit_reveal_weights_enabled"] == 1  # on by default, as subtensor
    assert sub.pool.tao_in == info.subnet_lock_cost and sub.pool.price == pytest.approx(1.0)
    assert netuid in [s.netuid for s in await c.list_subnets()]

    # The owner may set owner-settable values within bounds; sudo-only ones are refused.
    await c.set_hyperparameter(chain.bob, netuid, "immunity_period", 7)
    assert (await c.hyperparameters(netuid))["immunity_period"] == 7
    await expect("not_sudo", c.set_hyperparameter(chain.bob, netuid, "kappa", 1))
    await expect("hyperparameter_out_of_range", c.set_hyperparameter(chain.bob, netuid, "tempo", 5))
    await expect("not_owner", c.set_hyperparameter(chain.charlie, netuid, "immunity_period", 1))
    await expect(
        "unknown_hyperparameter", c.sudo_set_hyperparameter(chain.alice, netuid, "nope", 1)
    )
    await expect(
        "hyperparameter_out_of_range",
        c.sudo_set_hyperparameter(chain.alice, netuid, "alpha_low", 100),
    )
    await c.sudo_set_hyperparameter(chain.alice, netuid, "tempo", 3)  # sudo: wider bounds
    await expect("subnet_not_found", c.subnet_info(999))
    await expect("subnet_not_found", c.burned_register(chain.bob, 999, hotkey.ss58))


# -- registration and serving ----------------------------------------------------------------------
async def test_burned_register_assigns_uids_and_burns(chain: ChainHarness) -> None:
    c = chain.client
    netuid, _ = await chain.subnet()
    burn = (await c.subnet_info(netuid)).burn
    issuance = (await c.info()).total_issuance
    before = await c.balance(chain.bob.ss58)
    head = chain.service.head.number
    hotkeys = await chain.register(netuid, 3)
    assert [await c.uid_for_hotkey(netuid, hk.ss58) for hk in hotkeys] == [1, 2, 3]
    fees = await chain.fees_paid(chain.bob.ss58, head)
    assert await c.balance(chain.bob.ss58) == before - 3 * burn - fees
    assert (await c.info()).total_issuance < issuance + 10 * TAO  # burns leave the supply
    await expect("already_registered", c.burned_register(chain.bob, netuid, hotkeys[0].ss58))
    other_netuid, _ = await chain.subnet()
    # Bob's hotkey cannot be registered by Charlie anywhere; Bob may use it on another subnet.
    await expect(
        "hotkey_owned_by_other", c.burned_register(chain.charlie, other_netuid, hotkeys[0].ss58)
    )
    assert await c.burned_register(chain.bob, other_netuid, hotkeys[0].ss58) == 1
    poor = Signer.generate()
    await expect("cannot_pay", c.burned_register(poor, netuid, Signer.generate().ss58))
    await c.transfer(chain.alice, poor.ss58, min(burn // 2, TAO))  # pays the fee, not the burn
    await expect("insufficient_balance", c.burned_register(poor, netuid, Signer.generate().ss58))
    assert await c.uid_for_hotkey(netuid, Signer.generate().ss58) is None


async def test_registrations_per_block_are_rate_limited(chain: ChainHarness) -> None:
    c = chain.client
    netuid, _ = await chain.subnet(max_registrations_per_block=1)
    hks = [Signer.generate() for _ in range(2)]
    calls = [pb.Call(burned_register=pb.BurnedRegister(netuid=netuid, hotkey=h.ss58)) for h in hks]
    exts = [await c.sign(chain.bob, call) for call in calls]
    results = await c.submit_batch(exts)
    assert results[0].receipt.success
    assert results[1].receipt.error_code == "rate_limited"
    assert "until block" in results[1].receipt.error_message


async def test_serve_axon_and_its_errors(chain: ChainHarness) -> None:
    c = chain.client
    netuid, _ = await chain.subnet(serving_rate_limit=50)
    (hk,) = await chain.register(netuid, 1)
    fp = bytes(range(32))
    await c.serve_axon(hk, netuid, "127.0.0.1", 8091, certificate_fingerprint=fp)
    nrn = await c.neuron(netuid, hotkey=hk.ss58)
    assert (
        nrn is not None and nrn.endpoint.port == 8091 and nrn.endpoint.certificate_fingerprint == fp
    )
    with pytest.raises(NotRegisteredError):
        await c.serve_axon(Signer.generate(), netuid, "127.0.0.1", 1)
    await expect("bad_argument", c.serve_axon(hk, netuid, "300.1.1.1", 1))
    await expect("bad_argument", c.serve_axon(hk, netuid, "127.0.0.1", 0))
    await expect(
        "bad_argument", c.serve_axon(hk, netuid, "127.0.0.1", 5, certificate_fingerprint=b"x")
    )
    err = await expect("rate_limited", c.serve_axon(hk, netuid, "127.0.0.1", 8092))
    assert "until block" in err.message


# -- staking ---------------------------------------------------------------------------------------
async def test_add_and_remove_stake_through_the_pool(chain: ChainHarness) -> None:
    c = chain.client
    netuid, owner_hk = await chain.subnet()
    pool = (await c.subnet_info(netuid)).pool
    before = await c.balance(chain.charlie.ss58)
    head = chain.service.head.number
    alpha = await c.add_stake(chain.charlie, netuid, owner_hk.ss58, 10 * TAO)
    # Constant product on the reserves (the block's own coinbase injection moves them a little).
    assert alpha == pytest.approx(pool.alpha_in * 10 * TAO / (pool.tao_in + 10 * TAO), rel=0.02)
    after = (await c.subnet_info(netuid)).pool
    assert after.alpha_out == pool.alpha_out + alpha + TAO  # staked alpha + one block's emission
    assert await c.stake(netuid, owner_hk.ss58, chain.charlie.ss58) == alpha
    fee = await chain.fees_paid(chain.charlie.ss58, head)
    assert await c.balance(chain.charlie.ss58) == before - 10 * TAO - fee
    tao_back = await c.remove_stake(chain.charlie, netuid, owner_hk.ss58, alpha // 2)
    assert 0 < tao_back < 5 * TAO + TAO  # about half back, never more than was put in
    assert await c.stake(netuid, owner_hk.ss58, chain.charlie.ss58) == alpha - alpha // 2
    await expect("insufficient_stake", c.remove_stake(chain.charlie, netuid, owner_hk.ss58, alpha))
    await expect("amount_too_low", c.add_stake(chain.charlie, netuid, owner_hk.ss58, 10))
    await expect("not_registered", c.add_stake(chain.charlie, netuid, Signer.generate().ss58, TAO))
    await expect("cannot_pay", c.add_stake(Signer.generate(), netuid, owner_hk.ss58, TAO))


# -- weights ---------------------------------------------------------------------------------------
async def test_set_weights_success_and_every_check(chain: ChainHarness) -> None:
    c = chain.client
    netuid, owner = await chain.subnet(
        min_allowed_weights=2,
        max_weights_limit=40000,
        weights_version_key=3,
        weights_rate_limit=4,
        max_allowed_validators=1,  # only the owner holds a permit, whatever the epochs say
    )
    miners = await chain.register(netuid, 3)
    await chain.produce(4)
    await c.set_weights(owner, netuid, [1, 2], [1, 1], version_key=3)
    mg = await c.metagraph(netuid, with_weights=True)
    assert mg.weights_u16[0].tolist() == [0, 65535, 65535, 0]
    assert mg.last_update[0] == chain.service.head.number

    await expect("rate_limited", c.set_weights(owner, netuid, [1, 2], [1, 1], version_key=3))
    await chain.produce(4)
    await expect(
        "weights_version_too_old", c.set_weights(owner, netuid, [1, 2], [1, 1], version_key=2)
    )
    await expect("length_mismatch", c.set_weights(owner, netuid, [1, 2], [1], version_key=3))
    await expect("duplicate_uid", c.set_weights(owner, netuid, [1, 1], [1, 1], version_key=3))
    await expect("uid_out_of_range", c.set_weights(owner, netuid, [1, 9], [1, 1], version_key=3))
    await expect("too_few_weights", c.set_weights(owner, netuid, [1], [1], version_key=3))
    await expect("weight_above_limit", c.set_weights(owner, netuid, [1, 2], [9, 1], version_key=3))
    with pytest.raises(NotRegisteredError):
        await c.set_weights(Signer.generate(), netuid, [1, 2], [1, 1], version_key=3)
    # A registered hotkey without a validator permit may not weight others.
    await chain.produce(4)
    await expect(
        "no_validator_permit", c.set_weights(miners[0], netuid, [2, 3], [1, 1], version_key=3)
    )


async def test_set_weights_refused_while_commit_reveal_is_on(chain: ChainHarness) -> None:
    netuid, owner = await chain.subnet(commit_reveal=True)
    await chain.register(netuid, 1)
    err = await expect("commit_reveal_enabled", chain.client.set_weights(owner, netuid, [1], [1]))
    assert "commit_weights" in err.message


async def test_ed25519_accounts_sign_extrinsics_too(chain: ChainHarness) -> None:
    c = chain.client
    ed = Signer.generate("ed25519")
    await c.transfer(chain.alice, ed.ss58, 2 * TAO)
    paid = await c.transfer(ed, chain.bob.ss58, TAO)
    assert await c.balance(ed.ss58) == TAO - paid.fee

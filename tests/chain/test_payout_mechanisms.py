"""Delegation, root and child-key payouts on real chain state, to the rao, computed by hand.

Each test builds state through the call handlers (tests/chain/mechanism_state.py), sets the
subnet's pending emission, and pays an epoch with chosen epoch shares through the chain's own
payout code (``plan_payout`` + ``apply_payout``, what ``run_subnet_epoch`` calls).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from subnetkit.chain.distribution import U64_MAX
from subnetkit.chain.errors import DispatchError
from subnetkit.chain.state import State
from subnetkit.chain.transition import mechanisms
from subnetkit.chain.transition.context import Ctx, EventSink
from subnetkit.chain.transition.payouts import apply_payout, plan_payout
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from tests.chain.mechanism_state import (
    ALICE,
    BOB,
    CHARLIE,
    DAVE,
    EVE,
    call,
    hotkeys,
    new_state,
    subnet,
)

TAO = 1_000_000_000


def pay(
    state: State,
    netuid: int,
    *,
    server: int,
    validator: int,
    root: int = 0,
    server_shares: list[float],
    validator_shares: list[int],
) -> dict[tuple[str, str], int]:
    """Set the pending amounts, pay one epoch, return what was staked per (hotkey, coldkey)."""
    ctx = Ctx(state, 10, EventSink())
    sn = replace(
        ctx.subnet(netuid), pending_server=server, pending_validator=validator, pending_root=root
    )
    ctx.set_subnet(sn)
    plan = plan_payout(ctx, sn, server_shares, validator_shares, burn_uids=[0])
    apply_payout(ctx, netuid, plan)
    return plan.stakes


def set_alpha(state: State, netuid: int, hotkey: str, coldkey: str, alpha: int) -> None:
    Ctx(state, 1, EventSink()).change_stake(netuid, hotkey, coldkey, alpha)


def test_delegation_take_to_owner_rest_to_nominators() -> None:
    state = new_state(delegation=True)
    owner_hk, validator, miner = hotkeys(3)
    netuid = subnet(state, owner_hk, [(validator, BOB), (miner, EVE)])  # uids 1, 2
    # the validator's owner BOB stakes 600, nominators CHARLIE 300 and DAVE 100
    for coldkey, alpha in ((BOB, 600), (CHARLIE, 300), (DAVE, 100)):
        set_alpha(state, netuid, validator, coldkey, alpha)

    stakes = pay(
        state,
        netuid,
        server=500_000,
        validator=1_000_000,
        server_shares=[0.0, 0.0, 1.0],
        validator_shares=[0, 7, 0],
    )
    # miner: its whole 500_000 share, to its owner EVE (no take on incentive)
    # validator 1_000_000 with the default take 11796/65535:
    #   take = floor(1_000_000 * 11796 / 65535) = 179_995 -> BOB
    #   rest = 820_005 by stake 600:300:100 -> 492_003 / 246_001 / 82_000 (paid 820_004)
    #   BOB = 179_995 + 492_003 + 1 (rounding) = 671_999
    assert stakes == {
        (miner, EVE): 500_000,
        (validator, BOB): 671_999,
        (validator, CHARLIE): 246_001,
        (validator, DAVE): 82_000,
    }
    ctx = Ctx(state, 10, EventSink())
    assert ctx.stake_of(netuid, validator, CHARLIE) == 300 + 246_001
    assert ctx.hotkey_stake(netuid, validator) == 1000 + 1_000_000


def test_delegate_take_is_set_by_the_hotkey_owner_within_18_percent() -> None:
    state = new_state(delegation=True)
    owner_hk, validator = hotkeys(2)
    netuid = subnet(state, owner_hk, [(validator, BOB)])
    set_alpha(state, netuid, validator, BOB, 500)
    set_alpha(state, netuid, validator, CHARLIE, 500)
    with pytest.raises(DispatchError) as err:
        call(state, CHARLIE, set_delegate_take=pb.SetDelegateTake(hotkey=validator, take=0))
    assert err.value.code == "not_hotkey_owner"
    with pytest.raises(DispatchError) as err:
        call(state, BOB, set_delegate_take=pb.SetDelegateTake(hotkey=validator, take=11797))
    assert err.value.code == "take_out_of_range"
    call(state, BOB, set_delegate_take=pb.SetDelegateTake(hotkey=validator, take=6553))
    stakes = pay(
        state, netuid, server=0, validator=100_000, server_shares=[0, 0], validator_shares=[0, 1]
    )
    # take 6553/65535: floor(100_000 * 6553 / 65535) = 9_999; rest 90_001 split 1:1 ->
    # 45_000 each (1 rao of rounding to BOB): BOB 9_999 + 45_000 + 1 = 55_000, CHARLIE 45_000
    assert stakes == {(validator, BOB): 55_000, (validator, CHARLIE): 45_000}


def test_without_delegation_the_owner_gets_everything() -> None:
    state = new_state(root=True)  # a mechanism on, delegation off
    owner_hk, validator = hotkeys(2)
    netuid = subnet(state, owner_hk, [(validator, BOB)])
    set_alpha(state, netuid, validator, BOB, 500)
    set_alpha(state, netuid, validator, CHARLIE, 500)
    stakes = pay(
        state, netuid, server=0, validator=100_000, server_shares=[0, 0], validator_shares=[0, 1]
    )
    assert stakes == {(validator, BOB): 100_000}


def test_root_stake_weight_and_root_dividends_to_root_stakers() -> None:
    # tao_weight 1/4 (u64::MAX // 4, a hair under a quarter)
    state = new_state(root=True, delegation=True, tao_weight=U64_MAX // 4)
    owner_hk, v1, v2 = hotkeys(3)
    netuid = subnet(state, owner_hk, [(v1, BOB), (v2, DAVE)])  # uids 1, 2
    set_alpha(state, netuid, v1, BOB, 1 * TAO)
    set_alpha(state, netuid, v2, DAVE, 1 * TAO)
    # CHARLIE stakes 4 TAO on root, on v2 (netuid 0: no pool, 1 rao = 1 unit)
    call(state, CHARLIE, add_stake=pb.AddStake(netuid=0, hotkey=v2, amount=4 * TAO))
    assert mechanisms.root_total(state) == 4 * TAO

    # The epoch's stake: alpha + floor(root * tao_weight / u64::MAX)
    #   v1: 1e9 + 0                         = 1_000_000_000
    #   v2: 1e9 + floor(4e9 * (u64::MAX//4) / u64::MAX) = 1e9 + 999_999_999 = 1_999_999_999
    assert mechanisms.stake_weight(state, netuid, v1) == 1_000_000_000
    assert mechanisms.stake_weight(state, netuid, v2) == 1_999_999_999

    stakes = pay(
        state,
        netuid,
        server=0,
        validator=600_000,
        root=200_000,
        server_shares=[0.0, 0.0, 0.0],
        validator_shares=[0, 500_000, 500_000],
    )
    # Split of each validator's 500_000 by stake composition, root_prop = tw*R/(A + tw*R):
    #   v1: no root stake -> alpha 500_000, root 0
    #   v2: root_prop = 1/2 less a hair -> root floor(249_999.99..) = 249_999, alpha 250_001
    # alpha parts share pending_validator 600_000:
    #   v1 floor(600_000 * 500_000 / 750_001) = 399_999, v2 floor(600_000 * 250_001 / 750_001)
    #   = 200_000
    # root parts share pending_root 200_000: v2 is the only one -> 200_000
    # delegation (take 11796/65535 = floor(200_000 * 11796 / 65535) = 35_999):
    #   v1 alpha 399_999 -> BOB (owner and only alpha staker)
    #   v2 alpha 200_000 -> DAVE (owner and only alpha staker)
    #   v2 root  200_000 -> DAVE take 35_999, CHARLIE (only root staker) 164_001
    assert stakes == {
        (v1, BOB): 399_999,
        (v2, DAVE): 200_000 + 35_999,
        (v2, CHARLIE): 164_001,
    }
    # CHARLIE's root dividends are alpha on the subnet, beside the 4 TAO still on root
    ctx = Ctx(state, 10, EventSink())
    assert ctx.stake_of(netuid, v2, CHARLIE) == 164_001
    assert ctx.stake_of(0, v2, CHARLIE) == 4 * TAO


def test_root_needs_the_genesis_flag_and_a_known_hotkey() -> None:
    state = new_state()
    owner_hk, v = hotkeys(2)
    subnet(state, owner_hk, [(v, BOB)])
    with pytest.raises(DispatchError) as err:
        call(state, CHARLIE, add_stake=pb.AddStake(netuid=0, hotkey=v, amount=4 * TAO))
    assert err.value.code == "root_disabled"
    state = new_state(root=True)
    with pytest.raises(DispatchError) as err:
        call(state, CHARLIE, add_stake=pb.AddStake(netuid=0, hotkey=hotkeys(1)[0], amount=TAO))
    assert err.value.code == "not_registered"


def test_root_unstake_returns_the_tao() -> None:
    state = new_state(root=True)
    owner_hk, v = hotkeys(2)
    subnet(state, owner_hk, [(v, BOB)])
    before = Ctx(state, 1, EventSink()).account(CHARLIE).balance
    call(state, CHARLIE, add_stake=pb.AddStake(netuid=0, hotkey=v, amount=3 * TAO))
    call(state, CHARLIE, remove_stake=pb.RemoveStake(netuid=0, hotkey=v, amount=TAO))
    ctx = Ctx(state, 1, EventSink())
    assert ctx.account(CHARLIE).balance == before - 2 * TAO
    assert mechanisms.root_total(state) == 2 * TAO


def test_child_keys_stake_weight_and_split_with_childkey_take() -> None:
    state = new_state(childkeys=True)
    owner_hk, parent, child = hotkeys(3)
    netuid = subnet(state, owner_hk, [(parent, BOB), (child, DAVE)])  # uids 1, 2
    set_alpha(state, netuid, parent, BOB, 1000)
    set_alpha(state, netuid, child, DAVE, 200)
    half = U64_MAX // 2
    call(
        state,
        BOB,
        set_children=pb.SetChildren(
            netuid=netuid, hotkey=parent, children=[pb.ChildShare(hotkey=child, proportion=half)]
        ),
    )
    call(state, DAVE, set_childkey_take=pb.SetChildkeyTake(netuid=netuid, hotkey=child, take=6553))

    # lent = floor(1000 * (u64::MAX // 2) / u64::MAX) = 499
    #   parent keeps 1000 - 499 = 501; child has 200 + 499 = 699
    assert mechanisms.stake_weight(state, netuid, parent) == 501
    assert mechanisms.stake_weight(state, netuid, child) == 699

    stakes = pay(
        state,
        netuid,
        server=0,
        validator=1_000_000,
        server_shares=[0.0, 0.0, 0.0],
        validator_shares=[0, 0, 1_000_000],
    )
    # the child's 1_000_000: the parent's lent 499 of its 699 earned
    #   floor(1_000_000 * 499 / 699) = 713_876
    # childkey take 6553/65535: the child keeps floor(713_876 * 6553 / 65535) = 71_382
    #   parent: 713_876 - 71_382 = 642_494 -> BOB (parent's owner)
    #   child:  1_000_000 - 642_494 = 357_506 -> DAVE
    assert stakes == {(parent, BOB): 642_494, (child, DAVE): 357_506}


def test_children_are_checked_and_replaced() -> None:
    state = new_state(childkeys=True)
    owner_hk, parent, c1, c2 = hotkeys(4)
    netuid = subnet(state, owner_hk, [(parent, BOB), (c1, DAVE), (c2, DAVE)])

    def set_children(signer: str, *children: tuple[str, int]) -> None:
        shares = [pb.ChildShare(hotkey=h, proportion=p) for h, p in children]
        call(
            state,
            signer,
            set_children=pb.SetChildren(netuid=netuid, hotkey=parent, children=shares),
        )

    for signer, children, code in (
        (DAVE, [(c1, 1)], "not_hotkey_owner"),
        (BOB, [(parent, 1)], "bad_argument"),
        (BOB, [(c1, 1), (c1, 2)], "duplicate_child"),
        (BOB, [(c1, U64_MAX), (c2, 1)], "proportions_too_large"),
    ):
        with pytest.raises(DispatchError) as err:
            set_children(signer, *children)
        assert err.value.code == code
    set_children(BOB, (c1, 5))
    assert mechanisms.parents(state, netuid, c1) == ((parent, 5),)
    set_children(BOB, (c2, 7))  # replaces: c1 has no parent any more
    assert mechanisms.parents(state, netuid, c1) == ()
    assert mechanisms.parents(state, netuid, c2) == ((parent, 7),)
    set_children(BOB)
    assert mechanisms.children(state, netuid, parent) == ()
    state_without = new_state()
    with pytest.raises(DispatchError) as err:
        call(state_without, ALICE, set_childkey_take=pb.SetChildkeyTake(netuid=1, hotkey=c1))
    assert err.value.code == "childkeys_disabled"

"""Staking through the subnet pool (dynamic TAO): TAO in, alpha out, and back.

Swaps use the constant-product rule on the pool reserves, ``x * y = k``, with no fee:
staking ``t`` rao buys ``alpha_in * t // (tao_in + t)`` alpha; unstaking ``a`` alpha returns
``tao_in * a // (alpha_in + a)`` rao. Rounding is down, in the pool's favour, so a round trip
never creates TAO. Netuid 0 is the root network when the genesis turns it on: TAO staked there
stays TAO (no pool) and weighs ``tao_weight`` in every subnet's epoch (docs/epoch.md §10.2).
"""

from __future__ import annotations

from dataclasses import replace

from subnetkit.chain.errors import fail
from subnetkit.chain.transition import mechanisms
from subnetkit.chain.transition.context import Ctx, fmt_tao
from subnetkit.chain.transition.mechanisms import ROOT_NETUID
from subnetkit.protos.chain.v1 import chain_pb2 as pb

#: subtensor's DefaultMinStake
MIN_STAKE = 2_000_000


def _check_root(ctx: Ctx, hotkey: str) -> None:
    if "root" not in mechanisms.enabled(ctx.state):
        raise fail(
            "root_disabled",
            "this chain has no root network (netuid 0): start it with the genesis flag root "
            "(`subnetkit chain start --dev --root`)",
        )
    if ctx.state.get("howner", (hotkey,)) is None:
        raise fail(
            "not_registered",
            f"hotkey {hotkey} is not registered on any subnet; register it first, then stake "
            "on root",
        )


def add_root_stake(ctx: Ctx, call: pb.AddStake) -> None:
    """TAO staked on root (netuid 0) stays TAO: no pool, one rao one unit of root stake."""
    _check_root(ctx, call.hotkey)
    if call.amount < MIN_STAKE:
        raise fail(
            "amount_too_low",
            f"stake {fmt_tao(call.amount)} is below the minimum {fmt_tao(MIN_STAKE)}",
        )
    ctx.debit(ctx.signer, call.amount, f"staking {fmt_tao(call.amount)} on root")
    ctx.change_stake(ROOT_NETUID, call.hotkey, ctx.signer, call.amount)
    ctx.set_sys("root_stake", mechanisms.root_total(ctx.state) + call.amount)
    ctx.emit(
        "StakeAdded",
        netuid=ROOT_NETUID,
        hotkey=call.hotkey,
        coldkey=ctx.signer,
        tao=call.amount,
        alpha=call.amount,
    )


def remove_root_stake(ctx: Ctx, call: pb.RemoveStake) -> None:
    _check_root(ctx, call.hotkey)
    have = ctx.stake_of(ROOT_NETUID, call.hotkey, ctx.signer)
    if call.amount == 0 or have < call.amount:
        raise fail(
            "insufficient_stake",
            f"{ctx.signer} has {fmt_tao(have)} staked on root on {call.hotkey}; unstake between "
            "1 rao and that",
        )
    ctx.change_stake(ROOT_NETUID, call.hotkey, ctx.signer, -call.amount)
    ctx.set_sys("root_stake", mechanisms.root_total(ctx.state) - call.amount)
    ctx.credit(ctx.signer, call.amount)
    ctx.emit(
        "StakeRemoved",
        netuid=ROOT_NETUID,
        hotkey=call.hotkey,
        coldkey=ctx.signer,
        alpha=call.amount,
        tao=call.amount,
    )


def add_stake(ctx: Ctx, call: pb.AddStake) -> None:
    if call.netuid == ROOT_NETUID:
        add_root_stake(ctx, call)
        return
    sn = ctx.subnet(call.netuid)
    ctx.registered_uid(call.netuid, call.hotkey)
    if call.amount < MIN_STAKE:
        raise fail(
            "amount_too_low",
            f"stake {fmt_tao(call.amount)} is below the minimum {fmt_tao(MIN_STAKE)}",
        )
    ctx.debit(ctx.signer, call.amount, f"staking {fmt_tao(call.amount)}")
    alpha = sn.alpha_in * call.amount // (sn.tao_in + call.amount)
    if alpha <= 0:
        raise fail("amount_too_low", "the pool would give 0 alpha for this amount; stake more")
    ctx.set_subnet(
        replace(
            sn,
            tao_in=sn.tao_in + call.amount,
            alpha_in=sn.alpha_in - alpha,
            alpha_out=sn.alpha_out + alpha,
        )
    )
    ctx.change_stake(call.netuid, call.hotkey, ctx.signer, alpha)
    ctx.emit(
        "StakeAdded",
        netuid=call.netuid,
        hotkey=call.hotkey,
        coldkey=ctx.signer,
        tao=call.amount,
        alpha=alpha,
    )


def remove_stake(ctx: Ctx, call: pb.RemoveStake) -> None:
    if call.netuid == ROOT_NETUID:
        remove_root_stake(ctx, call)
        return
    sn = ctx.subnet(call.netuid)
    have = ctx.stake_of(call.netuid, call.hotkey, ctx.signer)
    if call.amount == 0:
        raise fail("bad_argument", "unstake amount is 0: give the alpha amount to remove")
    if have < call.amount:
        raise fail(
            "insufficient_stake",
            f"{ctx.signer} has {have} alpha staked on {call.hotkey} in subnet {call.netuid}, "
            f"less than the {call.amount} asked; unstake at most {have}",
        )
    tao = sn.tao_in * call.amount // (sn.alpha_in + call.amount)
    ctx.set_subnet(
        replace(
            sn,
            tao_in=sn.tao_in - tao,
            alpha_in=sn.alpha_in + call.amount,
            alpha_out=max(sn.alpha_out - call.amount, 0),
        )
    )
    ctx.change_stake(call.netuid, call.hotkey, ctx.signer, -call.amount)
    ctx.credit(ctx.signer, tao)
    ctx.emit(
        "StakeRemoved",
        netuid=call.netuid,
        hotkey=call.hotkey,
        coldkey=ctx.signer,
        alpha=call.amount,
        tao=tao,
    )

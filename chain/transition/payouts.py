"""Paying an epoch out when a payout mechanism is on (docs/epoch.md §10).

Miners: each uid's share of ``pending_server`` (by the epoch's server emission) is staked to its
hotkey under the hotkey's owner, as without mechanisms; the subnet owner's miner share burns.

Validators: the epoch's ``validator_emission`` of each uid is used as a proportion only. Each
uid's amount is split between the hotkey and its parents (child keys), each receiving hotkey's
amount into an alpha part and a root part by its stake composition (root), the alpha parts share
``pending_validator`` and the root parts ``pending_root``; finally each hotkey's alpha payout is
divided among its owner (take) and alpha stakers, its root payout among its owner (take) and
root stakers (delegation), and staked as alpha on the subnet. Without delegation a hotkey's
whole payout goes to its owner. Root alpha that no hotkey can take is recycled (leaves issuance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from subnetkit.chain.coinbase import _apportion
from subnetkit.chain.distribution import (
    delegate_split,
    parent_child_split,
    root_alpha_parts,
    scale_to,
    weighted,
)
from subnetkit.chain.records import Subnet
from subnetkit.chain.transition import mechanisms as mech
from subnetkit.chain.transition.context import Ctx


@dataclass
class EpochPayout:
    """Everything one epoch pays, before any of it is staked."""

    #: per uid: what the metagraph reports as the uid's emission (miner pay + validator share)
    per_uid: list[int]
    #: (hotkey, coldkey) -> alpha to stake on the subnet
    stakes: dict[tuple[str, str], int] = field(default_factory=dict)
    recycled: int = 0

    def add(self, hotkey: str, coldkey: str, amount: int) -> None:
        if amount > 0:
            self.stakes[hotkey, coldkey] = self.stakes.get((hotkey, coldkey), 0) + amount

    @property
    def paid(self) -> int:
        return sum(self.stakes.values())


def _stakers(ctx: Ctx, netuid: int) -> dict[str, dict[str, int]]:
    """hotkey -> {coldkey: stake} for one netuid (one pass over the stake table)."""
    out: dict[str, dict[str, int]] = {}
    for (net, hotkey, coldkey), amount in ctx.state.items("stake"):
        if net == netuid and amount > 0:
            out.setdefault(hotkey, {})[coldkey] = int(amount)
    return out


def _owner(ctx: Ctx, hotkey: str) -> str:
    owner: str = ctx.state.get("howner", (hotkey,), "")
    return owner


def validator_amounts(
    ctx: Ctx, netuid: int, hotkeys: list[str], emission: list[int]
) -> dict[str, int]:
    """Each hotkey's amount after child keys pass their parents' part back (step 1)."""
    tw = mech.tao_weight(ctx.state)
    out: dict[str, int] = {}
    for hotkey, amount in zip(hotkeys, emission, strict=True):
        if amount <= 0:
            continue
        hs = mech.hotkey_stake(ctx.state, netuid, hotkey)
        if hs.inherited:
            split = parent_child_split(
                amount,
                weighted(hs.own_alpha, hs.own_root, tw),
                [(parent, weighted(a, r, tw)) for parent, a, r in hs.inherited],
                hotkey,
                mech.childkey_take(ctx.state, netuid, hotkey),
            )
        else:
            split = {hotkey: amount}
        for key, value in split.items():
            out[key] = out.get(key, 0) + value
    return out


def plan_payout(
    ctx: Ctx,
    sn: Subnet,
    server_emission: list[float],
    validator_emission: list[int],
    burn_uids: list[int],
) -> EpochPayout:
    netuid = sn.netuid
    neurons = [ctx.neuron(netuid, uid) for uid in range(sn.n)]
    hotkeys = [nrn.hotkey for nrn in neurons]
    on = mech.enabled(ctx.state)
    tw = mech.tao_weight(ctx.state)
    alpha_pot, root_pot = sn.pending_validator, sn.pending_root
    payout = EpochPayout(per_uid=[0] * sn.n)

    if sum(server_emission) <= 0:
        alpha_pot += sn.pending_server
    else:
        server_pay = _apportion(sn.pending_server, server_emission)
        for uid in burn_uids:
            server_pay[uid] = 0
        for uid, nrn in enumerate(neurons):
            payout.add(nrn.hotkey, nrn.coldkey, server_pay[uid])
            payout.per_uid[uid] += server_pay[uid]
    total_ve = sum(validator_emission)
    if total_ve > 0:
        pot = alpha_pot + root_pot
        for uid, amount in enumerate(validator_emission):
            payout.per_uid[uid] += pot * amount // total_ve

    amounts = validator_amounts(ctx, netuid, hotkeys, validator_emission)
    alpha_parts: dict[str, int] = {}
    root_parts: dict[str, int] = {}
    for hotkey, amount in amounts.items():
        hs = mech.hotkey_stake(ctx.state, netuid, hotkey)
        alpha_parts[hotkey], root_parts[hotkey] = root_alpha_parts(amount, hs.alpha, hs.root, tw)
    alpha_pay = scale_to(alpha_pot, alpha_parts)
    root_pay = scale_to(root_pot, root_parts)
    if not root_pay:
        payout.recycled = root_pot

    delegation = "delegation" in on
    alpha_stakers = _stakers(ctx, netuid) if delegation else {}
    root_stakers = _stakers(ctx, mech.ROOT_NETUID) if delegation and root_pay else {}
    for pay, stakers in ((alpha_pay, alpha_stakers), (root_pay, root_stakers)):
        for hotkey, amount in sorted(pay.items()):
            owner = _owner(ctx, hotkey)
            if not delegation:
                payout.add(hotkey, owner, amount)
                continue
            take = mech.delegate_take(ctx.state, hotkey)
            for coldkey, share in delegate_split(
                amount, owner, take, stakers.get(hotkey, {})
            ).items():
                payout.add(hotkey, coldkey, share)
    return payout


def apply_payout(ctx: Ctx, netuid: int, payout: EpochPayout) -> None:
    for (hotkey, coldkey), amount in sorted(payout.stakes.items()):
        ctx.change_stake(netuid, hotkey, coldkey, amount)

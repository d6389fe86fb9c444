"""Per-block coinbase, and the epoch with its payout, for every subnet (docs/epoch.md §7).

Each block, before extrinsics:

1. ``block_emission(issuance)`` TAO is minted and shared among subnets by pool price
   (``subnet_shares``; the current price stands in for subtensor's EMA price).
2. Each subnet's pool gets ``inject(tao_emission, price, cap=alpha_out)``: TAO and alpha in at the
   current price, alpha capped by the subnet's own block ``alpha_out`` (``block_emission`` of its
   alpha issuance). Excess TAO buys alpha from the pool and that alpha is burned (chain buy).
   Without the root network the cap is ``alpha_out`` (root stake 0 would make every block a pure
   buy-back); with it (genesis ``root``) the cap is ``root_proportion x alpha_out``.
3. ``alpha_out`` is split (``split_alpha_out``: owner cut, then half to miners, half to
   validators) into the subnet's pending amounts; with root on, ``root_proportion`` of the
   validators' half is root stakers' (``pending_root``), or recycled while the subnets' prices
   sum to 1 or less.
4. At a subnet's epoch block (:mod:`chain.transition.schedule`) the epoch runs on the stored
   weights, bonds and stakes, pending emission is paid out as stake (``epoch_payouts``; the owner
   cut to the owner hotkey) and the epoch's outputs are stored on the neurons.

Payouts are staked to the neuron's hotkey under the coldkey that owns it (no nominator pools or
delegate take in this chain). Emission starts when a subnet is created (no ``start_call`` delay).
"""

from __future__ import annotations

from dataclasses import replace

from subnetkit.chain.coinbase import (
    block_emission,
    epoch_payouts,
    inject,
    split_alpha_out,
    subnet_shares,
)
from subnetkit.chain.records import Subnet
from subnetkit.chain.transition import mechanisms, payouts
from subnetkit.chain.transition.context import Ctx
from subnetkit.chain.transition.schedule import (
    DYNAMIC,
    dynamic_state,
    epoch_index,
    epochs_this_block,
    schedule_of,
    set_dynamic_state,
)


def price(sn: Subnet) -> float:
    return sn.tao_in / sn.alpha_in if sn.alpha_in > 0 else 0.0


def on_initialize(ctx: Ctx) -> None:
    subnets = [sn for _, sn in sorted(ctx.state.items("subnet"))]
    if not subnets:
        return
    coinbase(ctx, subnets)
    dynamic = schedule_of(ctx.state) == DYNAMIC
    for netuid in epochs_this_block(ctx.state, subnets, ctx.block):
        if dynamic:
            # The index ticks over before the epoch, as the legacy index does at an epoch block.
            epochs, _ = dynamic_state(ctx.state, netuid)
            set_dynamic_state(ctx.state, netuid, epochs + 1, 0)
        run_subnet_epoch(ctx, netuid)


def coinbase(ctx: Ctx, subnets: list[Subnet]) -> None:
    emitted = block_emission(ctx.sys("issuance", 0))
    shares = subnet_shares({sn.netuid: price(sn) for sn in subnets})
    root_on = "root" in mechanisms.enabled(ctx.state)
    # Root alpha is kept only while the subnets' prices sum above 1 ("root sell", §7.5).
    root_sell = sum(price(sn) for sn in subnets) > 1.0
    minted = 0
    for sn in subnets:
        tao_em = int(emitted * shares.get(sn.netuid, 0.0))
        alpha_em = block_emission(sn.alpha_issuance)
        split = split_alpha_out(alpha_em, sn.hp("subnet_owner_cut"), 0.0)
        cap, root_alpha, recycled = alpha_em, 0, 0
        if root_on:
            num, den = mechanisms.root_proportion(ctx.state, sn.alpha_issuance)
            cap = alpha_em * num // den
            root_alpha = split.validator * num // den
            if not root_sell:
                recycled, root_alpha = root_alpha, 0
        inj = inject(tao_em, price(sn), cap)
        tao_in, alpha_in = sn.tao_in + inj.tao_in, sn.alpha_in + inj.alpha_in
        burned = 0
        if inj.excess_tao > 0 and alpha_in > 0:
            burned = alpha_in * inj.excess_tao // (tao_in + inj.excess_tao)
            tao_in += inj.excess_tao
            alpha_in -= burned
        minted += tao_em
        ctx.set_subnet(
            replace(
                sn,
                tao_in=tao_in,
                alpha_in=alpha_in,
                alpha_out=sn.alpha_out + alpha_em - recycled,
                alpha_issuance=sn.alpha_issuance + alpha_em - recycled + inj.alpha_in - burned,
                pending_server=sn.pending_server + split.server,
                pending_validator=(sn.pending_validator + split.validator - root_alpha - recycled),
                pending_root=sn.pending_root + root_alpha,
                pending_owner=sn.pending_owner + split.owner_cut,
            )
        )
    ctx.add_issuance(minted)


def commit_blocks(ctx: Ctx, sn: Subnet) -> list[int]:
    """Per uid, the block of its earliest unexpired weight commit, or -1 (docs/epoch.md §2.5)."""
    period = sn.hp("reveal_period_epochs")
    now = epoch_index(ctx.state, sn, ctx.block)
    out = []
    for uid in range(sn.n):
        commits = ctx.state.get("commits", (sn.netuid, ctx.neuron(sn.netuid, uid).hotkey), ())
        live = [c[1] for c in commits if c[2] + period >= now]
        out.append(min(live) if live else -1)
    return out


def run_subnet_epoch(ctx: Ctx, netuid: int) -> None:
    from subnetkit.chain.transition.epoch_io import epoch_inputs, store_outputs

    sn = ctx.subnet(netuid)
    pending_total = sn.pending_server + sn.pending_validator + sn.pending_root
    if sn.n == 0:
        return
    from subnetkit.chain.epoch import run_epoch_exact

    inputs, hp = epoch_inputs(ctx, sn, pending_total)
    # The epoch of record is the fixed-point one: the same integers subtensor computes.
    out = run_epoch_exact(inputs, hp, device="cpu")
    owner_uid = hp.owner_uid
    burn_uids = [owner_uid] if owner_uid is not None else []
    if mechanisms.enabled(ctx.state):
        plan = payouts.plan_payout(
            ctx,
            sn,
            [float(x) for x in out.normalized_server_emission.tolist()],
            [int(x) for x in out.validator_emission.tolist()],
            burn_uids,
        )
        store_outputs(ctx, sn, out, plan.per_uid, stake_pay=False)
        payouts.apply_payout(ctx, netuid, plan)
        paid = plan.paid
        if plan.recycled:
            sn = ctx.subnet(netuid)
            ctx.set_subnet(
                replace(
                    sn,
                    alpha_issuance=sn.alpha_issuance - plan.recycled,
                    alpha_out=max(sn.alpha_out - plan.recycled, 0),
                )
            )
    else:
        pay = epoch_payouts(
            out, sn.pending_server, sn.pending_validator, sn.pending_root, burn_uids=burn_uids
        )
        store_outputs(ctx, sn, out, pay)
        paid = sum(pay)
    if sn.pending_owner and owner_uid is not None:
        ctx.change_stake(netuid, sn.owner_hotkey, sn.owner_coldkey, sn.pending_owner)
        paid += sn.pending_owner
    sn = ctx.subnet(netuid)
    ctx.set_subnet(
        replace(
            sn,
            pending_server=0,
            pending_validator=0,
            pending_root=0,
            pending_owner=0,
            last_epoch_block=ctx.block,
        )
    )
    ctx.emit("EpochRun", netuid=netuid, emission=pending_total + sn.pending_owner, paid=paid)

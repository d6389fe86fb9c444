"""Subnet creation and hyperparameter changes."""

from __future__ import annotations

from dataclasses import replace

from subnetkit.chain import hyperparams
from subnetkit.chain.errors import fail
from subnetkit.chain.records import Subnet
from subnetkit.chain.transition.context import Ctx, fmt_tao, require_address
from subnetkit.chain.transition.neurons import append_neuron, claim_hotkey
from subnetkit.protos.chain.v1 import chain_pb2 as pb

#: netuid 0 is subtensor's root network; we do not run root, so user subnets start at 1.
FIRST_NETUID = 1
MAX_SUBNETS = 1024


def create_subnet(ctx: Ctx, call: pb.CreateSubnet) -> None:
    hotkey = require_address(call.hotkey, "owner hotkey")
    claim_hotkey(ctx, hotkey)
    lock = int(ctx.sys("lock_cost", 0))
    ctx.debit(ctx.signer, lock, f"creating a subnet (lock cost {fmt_tao(lock)})")
    used = {key[0] for key, _ in ctx.state.items("subnet")}
    netuid = next((i for i in range(FIRST_NETUID, MAX_SUBNETS) if i not in used), None)
    if netuid is None:
        raise fail("subnet_limit", f"all {MAX_SUBNETS} subnet slots are taken")
    # The lock seeds the pool at price 1.0: subtensor's dynamic TAO starts every subnet with a
    # pool so that staking works from the first block.
    seed = max(lock, 1)
    sn = Subnet(
        netuid=netuid,
        owner_coldkey=ctx.signer,
        owner_hotkey=hotkey,
        registered_at=ctx.block,
        hyperparams=dict(ctx.sys("hp_defaults")),
        tao_in=seed,
        alpha_in=seed,
        alpha_issuance=seed,
        last_epoch_block=0,
    )
    ctx.set_subnet(sn)
    uid = append_neuron(ctx, netuid, hotkey, ctx.signer)
    ctx.emit("SubnetCreated", netuid=netuid, owner=ctx.signer, hotkey=hotkey, lock=lock, uid=uid)


def set_hyperparameter(ctx: Ctx, call: pb.SetHyperparameter) -> None:
    sn = ctx.subnet(call.netuid)
    if ctx.signer == ctx.sys("sudo"):
        as_owner = False
    elif ctx.signer == sn.owner_coldkey:
        as_owner = True
    else:
        raise fail(
            "not_owner",
            f"only subnet {call.netuid}'s owner coldkey or the sudo key may set hyperparameters",
        )
    hyperparams.check_value(call.name, call.value, as_owner=as_owner)
    hp = dict(sn.hyperparams)
    hp[call.name] = call.value
    if hp["alpha_low"] > hp["alpha_high"]:
        raise fail(
            "hyperparameter_out_of_range",
            f"alpha_low ({hp['alpha_low']}) must not exceed alpha_high ({hp['alpha_high']})",
        )
    ctx.set_subnet(replace(sn, hyperparams=hp))
    ctx.emit("HyperparameterSet", netuid=call.netuid, name=call.name, value=call.value)


def trigger_epoch(ctx: Ctx, call: pb.TriggerEpoch) -> None:
    """Owner trigger of the dynamic schedule (docs/epoch.md §3): the epoch runs at the next
    block, or later if more subnets than ``MAX_EPOCHS_PER_BLOCK`` are due then."""
    from subnetkit.chain.transition.schedule import (
        DYNAMIC,
        dynamic_state,
        schedule_of,
        set_dynamic_state,
    )

    sn = ctx.subnet(call.netuid)
    if ctx.signer not in (sn.owner_coldkey, ctx.sys("sudo")):
        raise fail(
            "not_owner",
            f"only subnet {call.netuid}'s owner coldkey or the sudo key may trigger an epoch",
        )
    if schedule_of(ctx.state) != DYNAMIC:
        raise fail(
            "legacy_schedule",
            "this chain runs the legacy epoch schedule (genesis epoch_schedule='legacy'): "
            "epochs fall on fixed blocks and cannot be triggered",
        )
    if sn.hp("tempo") == 0:
        raise fail("epochs_off", f"subnet {call.netuid} has tempo 0: it runs no epochs")
    epochs, pending_at = dynamic_state(ctx.state, call.netuid)
    if pending_at:
        raise fail(
            "epoch_already_triggered",
            f"an epoch of subnet {call.netuid} is already due at block {pending_at}",
        )
    set_dynamic_state(ctx.state, call.netuid, epochs, ctx.block + 1)
    ctx.emit("EpochTriggered", netuid=call.netuid, at_block=ctx.block + 1)

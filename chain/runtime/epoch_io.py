"""Between chain state and the tensor epoch: gather EpochInputs, store EpochOutputs.

Stake fed to the epoch is the hotkey's alpha in the subnet (``alpha + tao_stake x tao_weight``
with no root stake here). Weights and bonds are the stored sparse u16 rows made dense, with a
mask of the entries actually present.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from chain.records import Subnet
from chain.runtime.context import Ctx
from chain.runtime.emission import commit_blocks

if TYPE_CHECKING:
    from chain.epoch import EpochHyperparams, EpochInputs, EpochOutputs


def hyperparams_for(ctx: Ctx, sn: Subnet) -> EpochHyperparams:
    from chain.epoch import EpochHyperparams, activity_cutoff_blocks

    owner_uid = ctx.uid_of(sn.netuid, sn.owner_hotkey)
    return EpochHyperparams(
        kappa=sn.hp("kappa"),
        bonds_penalty=sn.hp("bonds_penalty"),
        bonds_moving_average=sn.hp("bonds_moving_average"),
        yuma3=bool(sn.hp("yuma3_enabled")),
        liquid_alpha=bool(sn.hp("liquid_alpha_enabled")),
        alpha_low=sn.hp("alpha_low"),
        alpha_high=sn.hp("alpha_high"),
        alpha_sigmoid_steepness=sn.hp("alpha_sigmoid_steepness"),
        max_allowed_validators=sn.hp("max_allowed_validators"),
        tempo=sn.hp("tempo"),
        activity_cutoff=activity_cutoff_blocks(
            sn.hp("activity_cutoff_factor_milli"), sn.hp("tempo")
        ),
        stake_threshold=sn.hp("stake_threshold"),
        owner_uid=owner_uid,
    )


def dense(ctx: Ctx, table: str, netuid: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    values = torch.zeros((n, n), dtype=torch.int64)
    mask = torch.zeros((n, n), dtype=torch.bool)
    for i in range(n):
        row = ctx.state.get(table, (netuid, i))
        if not row:
            continue
        cols = torch.tensor([j for j, _ in row if j < n], dtype=torch.int64)
        vals = torch.tensor([v for j, v in row if j < n], dtype=torch.int64)
        values[i, cols] = vals
        mask[i, cols] = True
    return values, mask


def epoch_inputs(ctx: Ctx, sn: Subnet, rao_emission: int) -> tuple[EpochInputs, EpochHyperparams]:
    from chain.epoch import EpochInputs

    n = sn.n
    neurons = [ctx.neuron(sn.netuid, uid) for uid in range(n)]
    weights, wmask = dense(ctx, "weights", sn.netuid, n)
    bonds, _ = dense(ctx, "bonds", sn.netuid, n)
    commit = None
    if sn.hp("commit_reveal_weights_enabled"):
        commit = torch.tensor(commit_blocks(ctx, sn), dtype=torch.int64)
    inputs = EpochInputs(
        stake=torch.tensor(
            [float(ctx.hotkey_stake(sn.netuid, nrn.hotkey)) for nrn in neurons],
            dtype=torch.float64,
        ),
        weights=weights,
        weights_mask=wmask,
        bonds=bonds,
        last_update=torch.tensor([nrn.last_update for nrn in neurons], dtype=torch.int64),
        block_at_registration=torch.tensor(
            [nrn.block_at_registration for nrn in neurons], dtype=torch.int64
        ),
        validator_permit=torch.tensor([nrn.validator_permit for nrn in neurons], dtype=torch.bool),
        current_block=ctx.block,
        last_mechanism_step_block=sn.last_epoch_block,
        rao_emission=rao_emission,
        commit_block=commit,
    )
    return inputs, hyperparams_for(ctx, sn)


def store_outputs(ctx: Ctx, sn: Subnet, out: EpochOutputs, pay: list[int]) -> None:
    """Write the epoch's outputs onto the neurons, store bonds, and stake each uid's payout."""
    u16 = {k: v.tolist() for k, v in out.u16().items()}
    active = out.active.tolist()
    permits = out.new_validator_permit.tolist()
    # Only uids with a new permit keep a bond row (§2.12); read those rows without ever building
    # the dense n x n matrix, which at n = 4096 would cost more than the epoch itself.
    bond_rows: dict[int, list[tuple[int, int]]] = {}
    for uid, row in out.stored_bond_rows():
        cols = torch.nonzero(row > 0).flatten()
        bond_rows[uid] = list(zip(cols.tolist(), row[cols].tolist(), strict=True))
    for uid in range(sn.n):
        nrn = ctx.neuron(sn.netuid, uid)
        ctx.set_neuron(
            sn.netuid,
            uid,
            replace(
                nrn,
                active=bool(active[uid]),
                validator_permit=bool(permits[uid]),
                stake_weight=int(u16["stake_weight"][uid]),
                consensus=int(u16["consensus"][uid]),
                incentive=int(u16["incentive"][uid]),
                dividends=int(u16["dividends"][uid]),
                validator_trust=int(u16["validator_trust"][uid]),
                pruning_score=int(u16["pruning_score"][uid]),
                emission=int(pay[uid]),
            ),
        )
        row = tuple((int(j), int(v)) for j, v in bond_rows.get(uid, ()))
        if row:
            ctx.state.put("bonds", (sn.netuid, uid), row)
        else:
            ctx.state.delete("bonds", (sn.netuid, uid))
        if pay[uid]:
            ctx.change_stake(sn.netuid, nrn.hotkey, nrn.coldkey, int(pay[uid]))

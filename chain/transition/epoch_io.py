"""Between chain state and the tensor epoch: gather EpochInputs, store EpochOutputs.

Stake fed to the epoch is ``alpha + root TAO x tao_weight`` after child keys
(:func:`chain.transition.mechanisms.stake_weight`; the hotkey's alpha when no mechanism is on).
Weights and bonds are the stored sparse u16 rows made dense, with a mask of the entries actually
present.
"""

from __future__ import annotations

import itertools
import mmap
from typing import TYPE_CHECKING

import numpy as np
import torch

from subnetkit.chain.records import SparseRow, Subnet, encode_int_pairs
from subnetkit.chain.transition.context import Ctx
from subnetkit.chain.transition.emission import commit_blocks
from subnetkit.chain.transition.mechanisms import stake_weight

if TYPE_CHECKING:
    from subnetkit.chain.epoch import EpochHyperparams, EpochInputs, EpochOutputs


def hyperparams_for(ctx: Ctx, sn: Subnet) -> EpochHyperparams:
    from subnetkit.chain.epoch import EpochHyperparams, activity_cutoff_blocks

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


def _zero_matrix(n: int, dtype: torch.dtype) -> torch.Tensor:
    """An ``n × n`` zero matrix in fresh private anonymous memory from the OS.

    The kernel hands out such pages already zeroed and maps each one only when it is first
    written, so the matrix costs the rows actually filled in (validators' rows), not n² entries:
    ``torch.zeros`` at n = 4096 writes 134 MB per int64 matrix (~30 ms each; an epoch gathers
    two, plus two bool masks).
    Untouched rows read as zeros, which is all the epoch ever reads there.
    """
    flags = getattr(mmap, "MAP_PRIVATE", None)
    size = n * n * torch.empty((), dtype=dtype).element_size()
    if flags is None or size == 0:
        return torch.zeros((n, n), dtype=dtype)
    buffer = mmap.mmap(-1, size, flags=flags | mmap.MAP_ANONYMOUS)
    return torch.frombuffer(buffer, dtype=dtype).view(n, n)


def dense(ctx: Ctx, table: str, netuid: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The stored sparse rows of ``table`` as a dense ``n × n`` int64 matrix and its mask.

    Every ``(uid, value)`` pair of every row is read in one C-level pass into one flat array
    and written with a single index_put: per-row tensors cost 170-340 ms at n = 4096.
    Entries whose uid is ``>= n`` are dropped.
    """
    values = _zero_matrix(n, torch.int64)
    mask = _zero_matrix(n, torch.bool)
    uids: list[int] = []
    lengths: list[int] = []
    rows: list[SparseRow] = []
    for uid in range(n):
        row = ctx.state.get(table, (netuid, uid))
        if row:
            uids.append(uid)
            lengths.append(len(row))
            rows.append(row)
    if not rows:
        return values, mask
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(rows)),
        dtype=np.int64,
        count=2 * sum(lengths),
    )
    pairs = torch.from_numpy(flat).view(-1, 2)
    row_index = torch.repeat_interleave(torch.tensor(uids), torch.tensor(lengths))
    cols, vals = pairs[:, 0], pairs[:, 1]
    inside = cols < n
    if not bool(inside.all()):
        row_index, cols, vals = row_index[inside], cols[inside], vals[inside]
    values[row_index, cols] = vals
    mask[row_index, cols] = True
    return values, mask


def epoch_inputs(ctx: Ctx, sn: Subnet, rao_emission: int) -> tuple[EpochInputs, EpochHyperparams]:
    from subnetkit.chain.epoch import EpochInputs

    n = sn.n
    neurons = [ctx.neuron(sn.netuid, uid) for uid in range(n)]
    weights, wmask = dense(ctx, "weights", sn.netuid, n)
    bonds, _ = dense(ctx, "bonds", sn.netuid, n)
    commit = None
    if sn.hp("commit_reveal_weights_enabled"):
        commit = torch.tensor(commit_blocks(ctx, sn), dtype=torch.int64)
    inputs = EpochInputs(
        # Whole rao as int64: the exact epoch normalises them without rounding.
        stake=torch.tensor(
            [stake_weight(ctx.state, sn.netuid, nrn.hotkey) for nrn in neurons],
            dtype=torch.int64,
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


def store_outputs(
    ctx: Ctx, sn: Subnet, out: EpochOutputs, pay: list[int], *, stake_pay: bool = True
) -> None:
    """Write the epoch's outputs onto the neurons, store bonds, and (``stake_pay``) stake each
    uid's payout to its hotkey's owner; with payout mechanisms the caller stakes instead."""
    u16 = {k: v.tolist() for k, v in out.u16().items()}
    stake_weight, consensus, incentive = u16["stake_weight"], u16["consensus"], u16["incentive"]
    dividends, validator_trust = u16["dividends"], u16["validator_trust"]
    pruning_score = u16["pruning_score"]
    active = out.active.tolist()
    permits = out.new_validator_permit.tolist()
    # Only uids with a new permit keep a bond row (docs/epoch.md §2.12); read those rows without
    # ever building the dense n x n matrix, which at n = 4096 would cost more than the epoch
    # itself. Row and canonical bytes both come from one flat list of the tensors' ints (4096
    # pairs per validator), which is about half the cost of encoding the tuple of pairs later.
    bond_rows: dict[int, tuple[SparseRow, bytes]] = {}
    for uid, row in out.stored_bond_rows():
        cols = torch.nonzero(row > 0).flatten()
        flat = torch.stack((cols, row[cols].to(torch.int64)), dim=1).flatten().tolist()
        pairs = tuple(zip(flat[::2], flat[1::2], strict=True))
        bond_rows[uid] = (pairs, encode_int_pairs(flat))
    netuid = sn.netuid
    for uid in range(sn.n):
        nrn = ctx.neuron(netuid, uid)
        ctx.set_neuron(
            netuid,
            uid,
            nrn.with_epoch_outputs(
                active=bool(active[uid]),
                validator_permit=bool(permits[uid]),
                stake_weight=int(stake_weight[uid]),
                consensus=int(consensus[uid]),
                incentive=int(incentive[uid]),
                dividends=int(dividends[uid]),
                validator_trust=int(validator_trust[uid]),
                pruning_score=int(pruning_score[uid]),
                emission=int(pay[uid]),
            ),
        )
        bonds = bond_rows.get(uid)
        if bonds and bonds[0]:
            ctx.state.put("bonds", (netuid, uid), bonds[0], encoded=bonds[1])
        else:
            ctx.state.delete("bonds", (netuid, uid))
        if stake_pay and pay[uid]:
            ctx.change_stake(netuid, nrn.hotkey, nrn.coldkey, int(pay[uid]))

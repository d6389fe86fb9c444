"""The epoch in the chain's own fixed-point arithmetic: subtensor's numbers, bit for bit.

:func:`run_epoch_exact` follows the same steps as :func:`chain.epoch.yuma.run_epoch`
(docs/epoch.md §2) but holds every fraction as its I32F32 bit pattern in an int64 tensor and
truncates each product and quotient where the chain does (docs/epoch.md §5, helpers in
:mod:`chain.epoch.fixed`). The chain runs this one as its epoch of record; the float64 epoch is
the fast model for simulations. Like the float64 epoch it only touches the ``(r × n)`` block of
rows that can hold weights or bonds. Outputs are :class:`EpochOutputs` whose float64 fractions
are the bit patterns divided by 2^32 (exact in float64) and whose u16 values are the chain's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor

from subnetkit.chain.epoch.exact_blocks import NUMPY, TORCH, clip_and_rank, yuma2_block
from subnetkit.chain.epoch.exact_bonds import ema_rate_bits, yuma3_bonds_exact
from subnetkit.chain.epoch.fixed import (
    ONE,
    U16_MAX,
    div_frac,
    max_upscale_u16,
    mul,
    normalize,
    rao_amounts,
    ratio_bits,
    stake_fractions,
    to_u16,
)
from subnetkit.chain.epoch.median import weighted_median_columns
from subnetkit.chain.epoch.types import EpochHyperparams, EpochInputs, EpochOutputs
from subnetkit.chain.epoch.yuma import (
    _check_shapes,
    _masked_weight_bits,
    _take_rows,
    _zero_rows_,
    top_k_nonzero,
)

_I64 = torch.int64
_SCALE = 1.0 / ONE
_BLOCK_ELEMENTS = 1 << 15
"""Entries per column block (256 KiB of int64): the handful alive at once fit a core's L2."""


def _block_width(rows: int, n: int) -> int:
    """Columns per block: about ``_BLOCK_ELEMENTS`` entries, at least 64 columns."""
    return max(64, min(n, _BLOCK_ELEMENTS // max(rows, 1))) if n else 1


def _fraction(bits: Tensor) -> Tensor:
    """I32F32 bits as float64 (exact: every value here is below 2^53)."""
    return bits.to(torch.float64).mul_(_SCALE)


def _blocks_in_numpy(device: torch.device) -> bool:
    """Whether the block kernels run in numpy (CPU) or torch (any other device)."""
    return device.type == "cpu"


def _legacy_fields(weights: Tensor, row_stake: Tensor, rank: Tensor) -> tuple[Tensor, Tensor]:
    """``(prerank, trust)`` as fractions, on demand: subtensor no longer stores them, so the
    epoch of record leaves them out of its hot path. Each product truncated, as for rank."""
    prerank = mul(weights, row_stake.unsqueeze(1)).sum(dim=0)
    return _fraction(prerank), _fraction(div_frac(rank, prerank))


def run_epoch_exact(
    inputs: EpochInputs, hp: EpochHyperparams, device: str | torch.device | None = None
) -> EpochOutputs:
    """Run one epoch in I32F32 fixed point and return every per-uid output.

    Same contract as :func:`chain.epoch.yuma.run_epoch`. Integer stake is read exactly (use an
    int64 tensor for stakes above 2^53); float stake is taken at its binary value.
    """
    n = _check_shapes(inputs)
    dev = torch.device(device) if device is not None else inputs.stake.device
    owner = hp.owner_uid if hp.owner_uid is not None and hp.owner_uid < n else None
    block = int(inputs.current_block)

    # 2.1 activity
    last_update = inputs.last_update.to(dev, _I64)
    registered = inputs.block_at_registration.to(dev, _I64)
    active = block - last_update <= hp.activity_cutoff

    # 2.2 stake: threshold (owner exempt), I64F64 normalisation narrowed to I32F32
    stake = torch.tensor(
        stake_fractions(inputs.stake.cpu(), hp.stake_threshold, owner), dtype=_I64, device=dev
    )

    # 2.3 permits in (owner forced) and out (top-k by stake, owner forced)
    permit_in = inputs.validator_permit.to(dev, torch.bool).clone()
    new_permit = top_k_nonzero(stake, hp.max_allowed_validators)
    if owner is not None:
        permit_in[owner] = True
        new_permit[owner] = True

    # 2.4 active stake
    active_stake = normalize(torch.where(active & permit_in, stake, 0))
    rows = torch.nonzero(permit_in | new_permit).squeeze(1)

    # 2.5 masks and row normalisation (already exact I32F32 bits)
    weights, present = _masked_weight_bits(inputs, rows, permit_in, owner, dev)
    row_stake = active_stake[rows]

    # 2.6 consensus: voters' stake renormalised in I32F32, then the kappa median
    voters = row_stake > 0
    all_vote = bool(voters.all())
    consensus = weighted_median_columns(
        normalize(row_stake if all_vote else row_stake[voters]),
        weights if all_vote else weights[voters],
        hp.kappa,
    ).to(dev)

    # Last epoch's block, for dropping bonds on miners registered since (docs/epoch.md §2.10).
    if inputs.last_mechanism_step_block == 0:
        last_tempo = max(block - hp.tempo, 0)
    else:
        last_tempo = int(inputs.last_mechanism_step_block) + 1
    bonds_in = _take_rows(inputs.bonds, rows).to(dev, _I64)
    fresh_columns = registered >= last_tempo
    if bool(fresh_columns.any()):
        bonds_in.mul_(~fresh_columns)

    # Columns are independent until incentive (which needs every column's rank) and the row
    # sums, so the (r × n) work runs on blocks of columns that stay in cache: limb products and
    # quotients make many short passes over each block (docs/epoch.md §5.5). On the CPU the
    # blocks run in numpy over zero-copy views (chain/epoch/exact_blocks.py says why).
    r = int(rows.shape[0])
    on_cpu = _blocks_in_numpy(dev)
    ops = NUMPY if on_cpu else TORCH

    def array(t: Tensor) -> Any:
        return t.numpy() if on_cpu else t

    def tensor(a: Any) -> Tensor:
        return torch.from_numpy(a) if on_cpu else a

    def zeros(*shape: int) -> Any:
        return array(torch.zeros(shape, dtype=_I64, device=dev))

    def empty(*shape: int) -> Any:  # for outputs every block writes its columns of
        return array(torch.empty(shape, dtype=_I64, device=dev))

    width = _block_width(r, n)
    w_all, c_all, b_all = array(weights), array(consensus), array(bonds_in)
    keep_all = array(present)
    stake_column = array(row_stake.unsqueeze(1).contiguous())
    penalty = ratio_bits(hp.bonds_penalty, U16_MAX)
    alpha = ema_rate_bits(hp.bonds_moving_average)
    liquid = hp.yuma3 and hp.liquid_alpha and bool((consensus != 0).any())
    trust_rows, rank_a = zeros(r), zeros(n)
    ema_a, stored_a = empty(r, n), empty(r, n)
    normalized_blocks: list[Any] = []
    for start in range(0, n, width):
        cols = slice(start, start + width)
        w, c = w_all[:, cols], c_all[cols]
        # 2.7 clipping and validator trust, 2.8 rank and the legacy prerank
        ranked = clip_and_rank(ops, w, c, stake_column)
        trust_rows += ranked.trust_rows
        rank_a[cols] = ranked.rank
        # 2.9 weights used for bonds
        keep = keep_all[:, cols]
        if hp.bonds_penalty == 0:
            bond_weights = w
        elif hp.bonds_penalty == U16_MAX:
            bond_weights = ranked.clipped
            if liquid:
                keep = keep & ~((w > 0) & (c == 0))
        else:
            bond_weights = ops.mul_scalar(ranked.clipped - w, penalty)
            bond_weights += w
            bond_weights *= bond_weights > 0
            keep = bond_weights > 0
        # 2.10 / 2.11 bonds
        if hp.yuma3:
            part = yuma3_bonds_exact(
                tensor(b_all[:, cols]),
                tensor(bond_weights),
                tensor(keep),
                tensor(c),
                bonds_moving_average=hp.bonds_moving_average,
                use_liquid_alpha=liquid,
                alpha_low=hp.alpha_low,
                alpha_high=hp.alpha_high,
                steepness=hp.alpha_sigmoid_steepness,
            )
            ema_a[:, cols] = array(part.ema)
            stored_a[:, cols] = array(part.stored)
            normalized_blocks.append(array(part.normalized))
            continue
        if bond_weights is ranked.clipped:
            bought, bought_sums = ranked.bought, ranked.rank
        else:
            bought = ops.mul(bond_weights, stake_column)
            bought_sums = ops.sum0(bought)
        bonds = yuma2_block(ops, b_all[:, cols], bought, bought_sums, alpha)
        ema_a[:, cols] = bonds.ema
        stored_a[:, cols] = bonds.stored
        normalized_blocks.append(bonds.normalized)
    rank = tensor(rank_a)
    validator_trust = torch.zeros(n, dtype=_I64, device=dev)
    validator_trust[rows] = tensor(trust_rows)
    incentive = normalize(rank)

    # dividends: incentive weighed by the normalised bonds, each product truncated
    incentive_a = array(incentive)
    dividend_a = zeros(r)
    for normalized, start in zip(normalized_blocks, range(0, n, width), strict=True):
        dividend_a += ops.sum1(ops.mul(normalized, incentive_a[start : start + width]))
    dividend_rows = tensor(dividend_a)
    if hp.yuma3:  # stake enters Yuma3 dividends once, on the whole row sum
        dividend_rows = mul(dividend_rows, row_stake)
    dividend_weight = torch.zeros(n, dtype=_I64, device=dev)
    dividend_weight[rows] = dividend_rows
    dividends = normalize(dividend_weight)
    ema, stored = tensor(ema_a), tensor(stored_a)

    # 2.12 bond storage: only rows with a new permit keep bonds
    _zero_rows_(stored, ~new_permit[rows])

    # 2.13 emission
    combined = incentive + dividends
    total = int(combined.sum())
    if total != 0:
        server_share = div_frac(incentive, total)
        validator_share = div_frac(dividends, total)
        combined_share = div_frac(combined, total)
    else:
        fallback = active_stake if int(active_stake.sum()) != 0 else stake
        server_share = incentive.clone()
        validator_share = fallback.clone()
        combined_share = fallback.clone()
    rao = int(inputs.rao_emission)

    return EpochOutputs(
        active=active,
        stake=_fraction(stake),
        active_stake=_fraction(active_stake),
        new_validator_permit=new_permit,
        consensus=_fraction(consensus),
        validator_trust=_fraction(validator_trust),
        rank=_fraction(rank),
        incentive=_fraction(incentive),
        dividends=_fraction(dividends),
        normalized_server_emission=_fraction(server_share),
        normalized_validator_emission=_fraction(validator_share),
        normalized_combined_emission=_fraction(combined_share),
        server_emission=rao_amounts(server_share, rao),
        validator_emission=rao_amounts(validator_share, rao),
        emission=rao_amounts(combined_share, rao),
        row_uids=rows,
        weights_normalized_rows=weights,
        ema_bonds_rows=ema,
        bonds_rows=stored,
        rows_in_bits=True,
        legacy_fn=partial(_legacy_fields, weights, row_stake, rank),
        u16_values={
            "stake_weight": to_u16(stake),
            "consensus": to_u16(consensus),
            "incentive": to_u16(incentive),
            "dividends": to_u16(dividends),
            "validator_trust": to_u16(validator_trust),
            "pruning_score": max_upscale_u16(combined_share),
        },
    )


__all__ = ["run_epoch_exact"]

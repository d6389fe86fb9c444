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

import torch
from torch import Tensor

from subnetkit.chain.epoch.exact_bonds import ExactBonds, yuma2_bonds_exact, yuma3_bonds_exact
from subnetkit.chain.epoch.fixed import (
    ONE,
    U16_MAX,
    div_frac,
    max_upscale_u16,
    mul,
    mul_scalar,
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
_BLOCK_ELEMENTS = 1 << 17
"""Entries per column block (1 MiB of int64): a few such blocks fit a core's L2 cache."""


def _block_width(rows: int, n: int) -> int:
    """Columns per block: about ``_BLOCK_ELEMENTS`` entries, at least 64 columns."""
    return max(64, min(n, _BLOCK_ELEMENTS // max(rows, 1))) if n else 1


def _fraction(bits: Tensor) -> Tensor:
    """I32F32 bits as float64 (exact: every value here is below 2^53)."""
    return bits.to(torch.float64).mul_(_SCALE)


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
    # quotients make many short passes over each block (docs/epoch.md §5.5).
    width = _block_width(int(rows.shape[0]), n)
    stake_column = row_stake.unsqueeze(1)
    penalty = ratio_bits(hp.bonds_penalty, U16_MAX)
    liquid = hp.yuma3 and hp.liquid_alpha and bool((consensus != 0).any())
    validator_trust_rows = torch.zeros(rows.shape[0], dtype=_I64, device=dev)
    prerank = torch.empty(n, dtype=_I64, device=dev)
    rank = torch.empty(n, dtype=_I64, device=dev)
    parts: list[ExactBonds] = []
    for start in range(0, n, width):
        cols = slice(start, start + width)
        w, c = weights[:, cols], consensus[cols]
        # 2.7 clipping and validator trust
        clipped = torch.minimum(w, c.unsqueeze(0))
        validator_trust_rows += clipped.sum(dim=1)
        # 2.8 rank and the legacy prerank: each product truncated before the sum
        prerank[cols] = mul(w, stake_column).sum(dim=0)
        bought = mul(clipped, stake_column)
        rank[cols] = bought_sums = bought.sum(dim=0)
        # 2.9 weights used for bonds
        keep = present[:, cols]
        if hp.bonds_penalty == 0:
            bond_weights = w
        elif hp.bonds_penalty == U16_MAX:
            bond_weights = clipped
            if liquid:
                keep = keep & ~((w > 0) & (c == 0).unsqueeze(0))
        else:
            bond_weights = mul_scalar(clipped - w, penalty).add_(w).clamp_(min=0)
            keep = bond_weights > 0
        # 2.10 / 2.11 bonds
        if hp.yuma3:
            part = yuma3_bonds_exact(
                bonds_in[:, cols],
                bond_weights,
                keep,
                c,
                bonds_moving_average=hp.bonds_moving_average,
                use_liquid_alpha=liquid,
                alpha_low=hp.alpha_low,
                alpha_high=hp.alpha_high,
                steepness=hp.alpha_sigmoid_steepness,
            )
        else:
            if bond_weights is not clipped:
                bought = mul(bond_weights, stake_column)
                bought_sums = bought.sum(dim=0)
            part = yuma2_bonds_exact(
                bonds_in[:, cols], bought, bought_sums, hp.bonds_moving_average
            )
        parts.append(part)
    validator_trust = torch.zeros(n, dtype=_I64, device=dev)
    validator_trust[rows] = validator_trust_rows
    incentive = normalize(rank)
    trust = div_frac(rank, prerank)

    # dividends: incentive weighed by the normalised bonds, each product truncated
    dividend_rows = torch.zeros(rows.shape[0], dtype=_I64, device=dev)
    for part, start in zip(parts, range(0, n, width), strict=True):
        dividend_rows += mul(part.normalized, incentive[start : start + width].unsqueeze(0)).sum(
            dim=1
        )
    if hp.yuma3:  # stake enters Yuma3 dividends once, on the whole row sum
        dividend_rows = mul(dividend_rows, row_stake)
    dividend_weight = torch.zeros(n, dtype=_I64, device=dev)
    dividend_weight[rows] = dividend_rows
    dividends = normalize(dividend_weight)
    ema = torch.cat([part.ema for part in parts], dim=1) if parts else weights.clone()
    stored = torch.cat([part.stored for part in parts], dim=1) if parts else weights.clone()

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
        prerank=_fraction(prerank),
        rank=_fraction(rank),
        trust=_fraction(trust),
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
        u16_values={
            "stake_weight": to_u16(stake),
            "consensus": to_u16(consensus),
            "incentive": to_u16(incentive),
            "dividends": to_u16(dividends),
            "validator_trust": to_u16(validator_trust),
            "trust": to_u16(trust),
            "pruning_score": max_upscale_u16(combined_share),
        },
    )


__all__ = ["run_epoch_exact"]

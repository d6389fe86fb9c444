"""Bonds and dividends in the chain's fixed point (docs/epoch.md §2.10-2.11, §5).

The exact counterpart of :mod:`chain.epoch.bonds`: the same ``(r × n)`` block of rows that can
hold bonds, every value an I32F32 bit pattern in int64, every product and quotient truncated
where subtensor truncates it. Each function returns ``(ema, dividends_raw, stored_u16)`` like the
float64 module, with ``ema`` and ``dividends_raw`` as bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from subnetkit.chain.epoch.fixed import (
    HALF,
    ONE,
    U16_MAX,
    col_normalize,
    div_frac,
    exp_safe,
    mul,
    mul_scalar,
    ratio_bits,
    reciprocal,
    to_u16,
    trunc_div,
    u16_fraction_table,
)


@dataclass(frozen=True)
class ExactBonds:
    ema: Tensor
    """Bond matrix before u16 storage as I32F32 bits (column max-upscaled on the default path)."""
    dividends: Tensor
    """Per-row dividend weight before normalisation, I32F32 bits."""
    stored: Tensor
    """u16 bonds to store for these rows, before clearing rows without a new permit."""


def ema_rate_bits(bonds_moving_average: int) -> int:
    """``1 − I32F32(bma / 1e6)``; the I64F64 quotient narrowed to I32F32 is one floor."""
    return ONE - (bonds_moving_average << 32) // 1_000_000


def yuma2_bonds_exact(
    bonds_u16: Tensor,
    bought: Tensor,
    incentive: Tensor,
    bonds_moving_average: int,
) -> ExactBonds:
    """Default bonds: column-normalised, bought in proportion to stake, EMA with fixed alpha.

    ``bonds_u16`` holds the stored u16 values (recently-registered columns already zeroed);
    ``bought`` is ``ΔB = Wb ∘ A`` as bits (each product truncated). Stored bonds are the EMA
    max-upscaled per column and floored to u16.
    """
    alpha = ema_rate_bits(bonds_moving_average)
    # Stored bonds are whole numbers b; b / Σb in I32F32 is floor(b·2^32 / Σb), one division.
    bond_sums = bonds_u16.sum(dim=0)
    previous = torch.div(bonds_u16 << 32, bond_sums.clamp(min=1), rounding_mode="floor")
    ema = mul_scalar(col_normalize(bought), alpha)
    ema += mul_scalar(previous, ONE - alpha)
    del previous
    ema = col_normalize(ema)
    dividends = mul(ema, incentive.unsqueeze(0)).sum(dim=1)
    if ema.shape[0]:
        ema = div_frac(ema, ema.amax(dim=0))  # column max-upscale; zero columns stay zero
    return ExactBonds(ema=ema, dividends=dividends, stored=to_u16(ema))


def liquid_alpha_exact(
    weights_for_bonds: Tensor,
    bonds: Tensor,
    consensus: Tensor,
    alpha_low_u16: int,
    alpha_high_u16: int,
    steepness: int,
) -> Tensor:
    """Per-entry EMA rate (``liquid_alpha_sigmoid``) as I32F32 bits.

    ``exp`` is the costly part (a 30-term series), so it runs once per distinct argument.
    """
    low = ratio_bits(alpha_low_u16, U16_MAX)
    high = ratio_bits(alpha_high_u16, U16_MAX)
    buying = weights_for_bonds >= bonds
    gap = torch.where(
        buying,
        (weights_for_bonds - consensus.unsqueeze(0)).clamp_(0, ONE),
        (bonds - weights_for_bonds).clamp_(0, ONE),
    )
    slope = trunc_div(steepness << 32, -100)  # I32F32 quotient: rounds toward zero
    x = mul_scalar(gap - HALF, slope)
    values, inverse = torch.unique(x, return_inverse=True)
    sigmoid = reciprocal(exp_safe(values) + ONE)[inverse]
    alpha = mul_scalar(sigmoid, high - low).add_(low)
    return alpha.clamp_(low, high)


def yuma3_bonds_exact(
    bonds_u16: Tensor,
    weights_for_bonds: Tensor,
    present_for_bonds: Tensor,
    active_stake: Tensor,
    incentive: Tensor,
    consensus: Tensor,
    *,
    bonds_moving_average: int,
    use_liquid_alpha: bool,
    alpha_low: int,
    alpha_high: int,
    steepness: int,
) -> ExactBonds:
    """Yuma3 bonds: per-(validator, miner) fractions bought with weights and capped at 1.

    With liquid alpha (and some nonzero consensus) only entries present in the bond weights
    survive (``mat_ema_alpha_sparse``). Stored bonds are ``floor(ema·65535)``.
    """
    previous = u16_fraction_table(bonds_u16.device)[bonds_u16]
    if use_liquid_alpha and bool((consensus != 0).any()):
        alpha = liquid_alpha_exact(
            weights_for_bonds, previous, consensus, alpha_low, alpha_high, steepness
        )
        ema = mul(previous, ONE - alpha)
        ema += mul(weights_for_bonds, alpha).clamp_(min=0)
        ema.clamp_(max=ONE).mul_(present_for_bonds)
    else:
        rate = ema_rate_bits(bonds_moving_average)
        ema = mul_scalar(weights_for_bonds, rate)
        ema += mul_scalar(previous, ONE - rate)
    ema.clamp_(min=0)
    per_row = mul(col_normalize(ema), incentive.unsqueeze(0)).sum(dim=1)
    dividends = mul(per_row, active_stake)
    return ExactBonds(ema=ema, dividends=dividends, stored=to_u16(ema))


__all__ = ["ExactBonds", "ema_rate_bits", "liquid_alpha_exact", "yuma2_bonds_exact", "yuma3_bonds_exact"]

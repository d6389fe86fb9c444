"""Yuma3 bonds in the chain's fixed point (docs/epoch.md §2.11, §5), on torch tensors.

The exact counterpart of :func:`chain.epoch.bonds.yuma3_bonds` for one block of columns: every
value an I32F32 bit pattern in int64, every product and quotient truncated where subtensor
truncates it. (The default path's bonds are in :mod:`chain.epoch.exact_blocks`.)
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
    """One block of columns of the bond update (columns are independent until dividends)."""

    ema: Tensor
    """Bond matrix before u16 storage as I32F32 bits (column max-upscaled on the default path)."""
    normalized: Tensor
    """The column-normalised EMA that dividends weigh incentive with: ``Σ_j N_ij × incentive_j``
    (incentive is only known once every block's rank is in)."""
    stored: Tensor
    """u16 bonds to store for these rows, before clearing rows without a new permit."""


def ema_rate_bits(bonds_moving_average: int) -> int:
    """``1 − I32F32(bma / 1e6)``; the I64F64 quotient narrowed to I32F32 is one floor."""
    return ONE - (bonds_moving_average << 32) // 1_000_000


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
    consensus: Tensor,
    *,
    bonds_moving_average: int,
    use_liquid_alpha: bool,
    alpha_low: int,
    alpha_high: int,
    steepness: int,
) -> ExactBonds:
    """Yuma3 bonds for a block of columns: per-(validator, miner) fractions bought with
    weights and capped at 1 (docs/epoch.md §2.11).

    With liquid alpha (``use_liquid_alpha``: on, and some nonzero consensus anywhere) only
    entries present in the bond weights survive (``mat_ema_alpha_sparse``). Stored bonds are
    ``floor(ema·65535)``. Dividends weigh incentive with ``colnorm(ema)`` and the caller then
    multiplies each row's whole sum by its active stake.
    """
    previous = u16_fraction_table(bonds_u16.device)[bonds_u16]
    if use_liquid_alpha:
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
    return ExactBonds(ema=ema, normalized=col_normalize(ema), stored=to_u16(ema))


__all__ = [
    "ExactBonds",
    "ema_rate_bits",
    "liquid_alpha_exact",
    "yuma3_bonds_exact",
]

"""Bond updates and dividends: the default ("Yuma 2") path and the Yuma3 path (yuma.md §2.10-11).

All matrices here are the ``(r × n)`` block of rows that can hold bonds (uids with an input or
a new validator permit); every other row of the chain's bond matrix is empty by construction.
Each function returns ``(ema, dividends_raw, stored_u16)`` where ``ema`` is the float matrix
the vectors call ``ema_bonds`` and ``dividends_raw`` is per row, before normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from chain.epoch.quant import U16_MAX, col_normalize, to_u16, u16_ratio


@dataclass(frozen=True)
class BondsResult:
    ema: Tensor
    """Bond matrix before u16 storage (column max-upscaled on the Yuma 2 path)."""
    dividends: Tensor
    """Per-row dividend weight before normalisation."""
    stored: Tensor
    """u16 bonds to store for these rows (int64), before clearing rows without a new permit."""


def _ema_alpha(bonds_moving_average: int) -> float:
    return 1.0 - bonds_moving_average / 1_000_000


def yuma2_bonds(
    bonds_u16: Tensor,
    weights_for_bonds: Tensor,
    active_stake: Tensor,
    incentive: Tensor,
    bonds_moving_average: int,
) -> BondsResult:
    """Default bonds: column-normalised, bought in proportion to stake, EMA with fixed alpha.

    ``bonds_u16`` must already have the recently-registered columns zeroed. The stored form is
    the EMA max-upscaled per column, floored to u16.
    """
    previous = col_normalize(bonds_u16.to(torch.float64))
    bought = col_normalize(weights_for_bonds * active_stake.unsqueeze(1))
    alpha = _ema_alpha(bonds_moving_average)
    ema = (alpha * bought + (1.0 - alpha) * previous).clamp_(min=0.0)
    ema = col_normalize(ema)
    dividends = ema @ incentive
    col_max = ema.max(dim=0, keepdim=True).values if ema.shape[0] else ema.sum(0, keepdim=True)
    upscaled = torch.where(col_max > 0, ema / torch.where(col_max > 0, col_max, 1.0), ema)
    return BondsResult(ema=upscaled, dividends=dividends, stored=to_u16(upscaled))


def liquid_alpha(
    weights_for_bonds: Tensor,
    bonds: Tensor,
    consensus: Tensor,
    alpha_low_u16: int,
    alpha_high_u16: int,
    steepness: int,
) -> Tensor:
    """Per-entry EMA rate from a sigmoid of the buy/sell gap (Yuma3 liquid alpha, §2.11.2).

    Buying (weight >= bond): gap = weight − consensus; selling: gap = bond − weight; both
    clamped to [0, 1]. A large gap moves the bond fast (alpha near ``alpha_high``).
    """
    low = u16_ratio(alpha_low_u16)
    high = u16_ratio(alpha_high_u16)
    buying = weights_for_bonds >= bonds
    gap = torch.where(
        buying,
        (weights_for_bonds - consensus.unsqueeze(0)).clamp(0.0, 1.0),
        (bonds - weights_for_bonds).clamp(0.0, 1.0),
    )
    x = ((steepness / -100.0) * (gap - 0.5)).clamp_(-20.0, 20.0)
    sigma = 1.0 / (1.0 + torch.exp(x))
    return (low + sigma * (high - low)).clamp_(low, high)


def yuma3_bonds(
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
) -> BondsResult:
    """Yuma3 bonds: per-(validator, miner) fractions in [0, 1] bought with weights, capped at 1.

    With liquid alpha (and some nonzero consensus) the EMA runs only over entries present in
    the bond weights; a bond without such an entry is dropped, as in the chain's sparse code.
    Stake enters only at the dividend step. Stored as ``floor(ema * 65535)``.
    """
    previous = bonds_u16.to(torch.float64) / U16_MAX
    if use_liquid_alpha and bool((consensus != 0).any()):
        alpha = liquid_alpha(
            weights_for_bonds, previous, consensus, alpha_low, alpha_high, steepness
        )
        updated = ((1.0 - alpha) * previous + (alpha * weights_for_bonds).clamp(min=0.0)).clamp(
            max=1.0
        )
        ema = torch.where(present_for_bonds, updated, 0.0)
    else:
        rate = _ema_alpha(bonds_moving_average)
        ema = (rate * weights_for_bonds + (1.0 - rate) * previous).clamp_(min=0.0)
    per_row = col_normalize(ema) @ incentive
    dividends = per_row * active_stake
    return BondsResult(ema=ema, dividends=dividends, stored=to_u16(ema))


__all__ = ["BondsResult", "liquid_alpha", "yuma2_bonds", "yuma3_bonds"]

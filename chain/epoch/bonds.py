"""Bond updates and dividends: the default ("Yuma 2") path and the Yuma3 path.

Specified in docs/epoch.md §2.10-2.11.

All matrices here are the ``(r × n)`` block of rows that can hold bonds (uids with an input or
a new validator permit); every other row of the chain's bond matrix is empty by construction.
Each function returns ``(ema, dividends_raw, stored_u16)`` where ``ema`` is the float matrix
the vectors call ``ema_bonds`` and ``dividends_raw`` is per row, before normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from subnetkit.chain.epoch.quant import ONE, U16_MAX, col_normalize, u16_ratio

# Below any nonzero column sum of fractions; keeps zero columns at zero without a branch.
_TINY = 1e-300


@dataclass(frozen=True)
class BondsResult:
    ema: Tensor
    """Bond matrix before u16 storage (column max-upscaled on the Yuma 2 path)."""
    dividends: Tensor
    """Per-row dividend weight before normalisation."""
    stored: Tensor
    """u16 bonds to store for these rows (int64), before clearing rows without a new permit."""


def _ema_alpha(bonds_moving_average: int) -> float:
    """The chain's EMA rate ``1 − bma / 1e6`` as the I32F32 value it really is.

    Near bma = 1e6 the truncation matters: 999 999 gives 4297·2^-32, 0.05 % above 1e-6.
    """
    return (ONE - (bonds_moving_average << 32) // 1_000_000) / ONE


def _to_u16(m: Tensor) -> Tensor:
    """``floor(m * 65535)`` as int64 for m in [0, 1] (float-to-int conversion truncates)."""
    return (m * U16_MAX).to(torch.int64)


def yuma2_bonds(
    bonds_u16: Tensor,
    weights_for_bonds: Tensor,
    active_stake: Tensor,
    incentive: Tensor,
    bonds_moving_average: int,
) -> BondsResult:
    """Default bonds: column-normalised, bought in proportion to stake, EMA with fixed alpha.

    ``bonds_u16`` (float64 holding u16 values, recently-registered columns already zeroed) is
    consumed. The stored form is the EMA max-upscaled per column, floored to u16.

    The chain's steps are ``B' = colnorm(B)``, ``ΔB = colnorm(W ∘ A)``,
    ``EMA = colnorm(α ΔB + (1 − α) B')``. Every column sum involved is known in advance (the
    two parts are each normalised, so an EMA column sums to ``α [ΔB_j ≠ 0] + (1 − α) [B_j ≠ 0]``),
    so the whole update is three in-place passes with per-column factors instead of a dozen
    passes over the matrix.
    """
    alpha = _ema_alpha(bonds_moving_average)
    prev_sum = bonds_u16.sum(dim=0)
    bought_sum = active_stake @ weights_for_bonds
    has_prev, has_bought = prev_sum > 0, bought_sum > 0
    ema_sum = (1.0 - alpha) * has_prev + alpha * has_bought
    ema_sum = torch.where(ema_sum > 0, ema_sum, 1.0)
    # ema_ij = B_ij f0_j + A_i W_ij f1_j; where nothing was bought the second term is 0 anyway.
    f0 = torch.where(has_prev, (1.0 - alpha) / torch.where(has_prev, prev_sum, 1.0) / ema_sum, 0.0)
    if alpha == 0.0:
        # Nothing is bought (f1 = 0): the EMA is the previous bonds, column-normalised. The
        # fused form below divides by f1, so it must not run here.
        ema = bonds_u16.mul_(f0)
    else:
        # alpha > 0 and bought_sum <= 1 (normalised stake times rows summing to <= 1), so
        # f1 >= alpha >= 1e-6 where something was bought, and 1 elsewhere: f0 / f1 is finite.
        f1 = torch.where(
            has_bought, alpha / torch.where(has_bought, bought_sum, 1.0) / ema_sum, 1.0
        )
        ema = bonds_u16.mul_(f0 / f1)
        ema.addcmul_(weights_for_bonds, active_stake.unsqueeze(1)).mul_(f1)
    dividends = ema @ incentive
    if ema.shape[0]:
        ema.div_(ema.amax(dim=0).clamp_(min=_TINY))  # column max-upscale
    return BondsResult(ema=ema, dividends=dividends, stored=_to_u16(ema))


def liquid_alpha(
    weights_for_bonds: Tensor,
    bonds: Tensor,
    consensus: Tensor,
    alpha_low_u16: int,
    alpha_high_u16: int,
    steepness: int,
) -> Tensor:
    """Per-entry EMA rate from a sigmoid of the buy/sell gap (liquid alpha, docs/epoch.md §2.11).

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
    previous = bonds_u16.div_(U16_MAX)
    if use_liquid_alpha and bool((consensus != 0).any()):
        alpha = liquid_alpha(
            weights_for_bonds, previous, consensus, alpha_low, alpha_high, steepness
        )
        bought = (alpha * weights_for_bonds).clamp_(min=0.0)
        ema = previous.mul_(1.0 - alpha).add_(bought).clamp_(max=1.0).mul_(present_for_bonds)
    else:
        rate = _ema_alpha(bonds_moving_average)
        ema = previous.mul_(1.0 - rate).add_(weights_for_bonds, alpha=rate)
    per_row = col_normalize(ema) @ incentive
    dividends = per_row * active_stake
    return BondsResult(ema=ema, dividends=dividends, stored=_to_u16(ema))


__all__ = ["BondsResult", "liquid_alpha", "yuma2_bonds", "yuma3_bonds"]

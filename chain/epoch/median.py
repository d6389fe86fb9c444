"""Consensus: the stake-weighted median of each column with the kappa majority (docs/epoch.md §2.6).

The chain runs a partition search with a middle pivot, column by column. Its result does not
depend on the pivot order: with exact (integer) stake sums the search keeps the invariant
``stake(below candidates) <= minority < stake(below) + stake(candidates)``, so it always
returns the one score value ``c`` at which the cumulative stake, taken in ascending score order,
first exceeds ``minority = Σa − kappa``. We compute exactly that for every column at once:
sort each column's scores, prefix-sum the stakes in that order, and pick the first position
past ``minority``. Stakes and scores are I32F32 bit patterns (int64), so the sums are exact
like the chain's and ties and the kappa boundary behave the same. The literal algorithm lives
in the tests and is compared against this on random inputs full of ties.

Cost: one sort of a ``(columns × validators)`` int64 matrix (each key carries its row index in
its low bits so the sort needs no index output), one gather and one prefix sum.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

FRAC_BITS = 32
U16_MAX = 65535


def kappa_bits(kappa_u16: int) -> int:
    """Kappa as the chain's I32F32: ``from_num(kappa) / from_num(65535)``, truncated."""
    return (kappa_u16 << FRAC_BITS) // U16_MAX


def normalized_stake_bits(stake: Tensor) -> Tensor:
    """Renormalise stakes to sum 1 as I32F32 bits: the chain's ``(a << 32) / Σa``, truncated.

    ``stake`` holds fractions on the I32F32 grid (the epoch snaps active stake), so their bits
    are exact integers and the division can be done exactly in integers. A float division
    rounds up across an integer when the true quotient lies within an ulp below it, which
    moves a validator across the kappa boundary. ``a << 32`` does not fit an int64 once
    ``a >= 1/2``, so the quotient is taken in two 16-bit steps (all values stay below 2^50).
    """
    bits = torch.floor(stake * float(1 << FRAC_BITS)).to(torch.int64)
    total = int(bits.sum())
    if total <= 0:
        return torch.zeros_like(bits)
    high = bits << 16  # a < 2^34 (sum <= 1 plus slack), so a << 16 < 2^50
    quotient = torch.div(high, total, rounding_mode="floor")
    remainder = high - quotient * total  # < total <= 2^34, so remainder << 16 < 2^50
    low = torch.div(remainder << 16, total, rounding_mode="floor")
    return (quotient << 16) + low


def _select_numpy(stake_bits: Tensor, score_bits: Tensor, minority: int) -> Tensor:
    """CPU path in numpy: its SIMD sort is ~6x faster than torch's on rows this short, and its
    single-threaded element-wise ops do not stall when the cores are busy."""
    v = score_bits.shape[0]
    index_bits = max(1, (v - 1).bit_length())
    # Transpose while shifting: (n, v) C-order keys, one row per column of W.
    ordered = np.left_shift(score_bits.numpy().T, index_bits, order="C")
    ordered |= np.arange(v, dtype=np.int64)[None, :]
    ordered.sort(axis=1)
    cumulative = np.take(stake_bits.numpy(), ordered & ((1 << index_bits) - 1))
    np.cumsum(cumulative, axis=1, out=cumulative)
    position = np.count_nonzero(cumulative <= minority, axis=1)
    np.minimum(position, v - 1, out=position)
    chosen = np.take_along_axis(ordered, position[:, None], axis=1)[:, 0]
    return torch.from_numpy(chosen >> index_bits)


def _select_torch(stake_bits: Tensor, score_bits: Tensor, minority: int) -> Tensor:
    """The same selection with torch ops, for CUDA (and any non-CPU device)."""
    v = score_bits.shape[0]
    index_bits = max(1, (v - 1).bit_length())
    row_ids = torch.arange(v, dtype=torch.int64, device=score_bits.device)
    keys = (score_bits << index_bits) | row_ids.unsqueeze(1)
    ordered = torch.sort(keys.t().contiguous(), dim=1).values
    cumulative = stake_bits[ordered & ((1 << index_bits) - 1)].cumsum(dim=1)
    position = (cumulative <= minority).sum(dim=1).clamp_(max=v - 1)
    return ordered.gather(1, position.unsqueeze(1)).squeeze(1) >> index_bits


def weighted_median_columns(stake_bits: Tensor, score_bits: Tensor, kappa_u16: int) -> Tensor:
    """Consensus bits for every column of ``score_bits``.

    Args:
        stake_bits: ``(v,)`` int64, the validators' renormalised active stake as I32F32 bits.
        score_bits: ``(v, n)`` int64, their normalised weights as I32F32 bits (0 = no entry).
        kappa_u16: the Kappa hyperparameter (u16 fraction).

    Returns:
        ``(n,)`` int64 I32F32 bits of the selected score per column; all 0 if ``v == 0``.
    """
    v, n = score_bits.shape
    if v == 0 or n == 0:
        return torch.zeros(n, dtype=torch.int64, device=score_bits.device)
    minority = int(stake_bits.sum()) - kappa_bits(kappa_u16)
    if score_bits.device.type == "cpu":
        return _select_numpy(stake_bits.contiguous(), score_bits.contiguous(), minority)
    return _select_torch(stake_bits, score_bits, minority)


__all__ = ["kappa_bits", "normalized_stake_bits", "weighted_median_columns"]

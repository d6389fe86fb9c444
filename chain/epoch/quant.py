"""Float64 helpers that mimic the chain's I32F32 fixed point where it changes results.

The chain computes every fraction in I32F32 (32 fractional bits, truncating). A float64 epoch
matches it to ~1e-9 everywhere except where a value is *compared* (median ties, the kappa
boundary) or *floored* to u16; there we snap values onto the 2^-32 grid the chain uses, so
equal-on-chain stays equal here.
"""

from __future__ import annotations

import torch
from torch import Tensor

FRAC_BITS = 32
ONE = float(1 << FRAC_BITS)
U16_MAX = 65535


def snap(x: Tensor) -> Tensor:
    """Round non-negative float64 values down onto the I32F32 grid."""
    return torch.floor(x * ONE) / ONE


def u16_ratio(value: int) -> float:
    """``I32F32::from_num(value) / I32F32::from_num(65535)`` as a float (exact on the grid)."""
    return ((value << FRAC_BITS) // U16_MAX) / ONE


def normalize(x: Tensor) -> Tensor:
    """``x / sum(x)``, leaving an all-zero vector unchanged (the chain's ``inplace_normalize``)."""
    total = x.sum()
    return x / total if bool(total > 0) else x.clone()


def col_normalize(m: Tensor) -> Tensor:
    """Divide each column by its sum; columns summing to 0 stay as they are."""
    sums = m.sum(dim=0, keepdim=True)
    return torch.where(sums > 0, m / torch.where(sums > 0, sums, 1.0), m)


def to_u16(x: Tensor) -> Tensor:
    """``fixed_proportion_to_u16``: ``floor(x * 65535)`` saturated to 0..65535, as int64."""
    return torch.clamp(torch.floor(x * U16_MAX), 0, U16_MAX).to(torch.int64)


def max_upscale_u16_tensor(x: Tensor) -> Tensor:
    """``vec_max_upscale_to_u16`` for a vector of fractions (legacy pruning score)."""
    if x.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=x.device)
    top = x.max()
    if bool(top <= 0):
        return to_u16(x)
    scaled = torch.floor(x * U16_MAX / top + 0.5)
    return torch.clamp(scaled, 0, U16_MAX).to(torch.int64)

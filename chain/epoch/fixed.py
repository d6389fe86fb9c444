"""The chain's fixed-point arithmetic on int64 tensors of I32F32 bit patterns (docs/epoch.md §5).

subtensor computes every epoch fraction as an I32F32 (an i64 counting units of 2^-32) and does
products and quotients in 128 bits before truncating. torch has no 128-bit integers, so the
wide steps are split into limbs small enough that no intermediate leaves int64, while giving
bit for bit the same truncated result:

* a product ``(a·b) >> 32`` is ``(a·b_hi + ((a·b_lo) >> 16)) >> 16`` with ``b = b_hi·2^16 + b_lo``
  (arithmetic shifts floor, as the chain's product does, also for negative values);
* a quotient ``(x << 32) / d`` is one int64 division where ``x < 2^31``, and a two-step long
  division (16 bits at a time) for the few larger numerators.

Everything here works on whole tensors (or Python ints for per-subnet scalars), so the exact
epoch stays vectorised.
"""

from __future__ import annotations

import torch
from torch import Tensor

FRAC_BITS = 32
ONE = 1 << FRAC_BITS
"""1.0 as I32F32 bits."""
HALF = 1 << (FRAC_BITS - 1)
U16_MAX = 65535
_LIMB = 16
_LIMB_MASK = (1 << _LIMB) - 1
_LOW32 = ONE - 1
_SMALL = 1 << 31
"""Numerators below this can be shifted left by 32 bits inside an int64."""


def ratio_bits(numerator: int, denominator: int) -> int:
    """``I32F32::from_num(numerator) / I32F32::from_num(denominator)`` for non-negative ints."""
    return (numerator << FRAC_BITS) // denominator if denominator else 0


def trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero (Rust's ``/``), for the one signed quotient."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def mul(a: Tensor, b: Tensor) -> Tensor:
    """``(a·b) >> 32`` elementwise (broadcasting), truncating toward −∞ like I32F32's product.

    Exact when ``|a| < 2^45`` and ``|b| < 2^33``: the two partial products then stay below 2^63.
    Put the smaller-range operand (often a per-row or per-column vector) in ``b``.
    """
    out = a * (b & _LIMB_MASK)
    out >>= _LIMB
    out.addcmul_(a, b >> _LIMB)
    out >>= _LIMB
    return out


def mul_scalar(a: Tensor, s: int) -> Tensor:
    """``(a·s) >> 32`` for a Python int ``s`` with ``|s| < 2^47`` and ``|a| < 2^33``."""
    out = a * (s & _LIMB_MASK)
    out >>= _LIMB
    out.add_(a, alpha=s >> _LIMB)
    out >>= _LIMB
    return out


def mul_wide(a: Tensor, b: Tensor) -> Tensor:
    """``(a·b) >> 32`` when ``b`` may reach 2^62 (``|a| < 2^37``, ``|a·b| >> 32 < 2^62``).

    Splits ``b`` at bit 32: ``a·b_hi + ((a·b_lo) >> 32)``.
    """
    return mul(a, b & _LOW32).add_(a * (b >> FRAC_BITS))


def _long_div(x: Tensor, d: Tensor) -> Tensor:
    """``floor((x << 32) / d)`` in two 16-bit steps; needs ``0 <= x < 2^47``, ``0 < d < 2^47``."""
    high = x << _LIMB
    q1 = torch.div(high, d, rounding_mode="floor")
    rem = high - q1 * d
    q2 = torch.div(rem << _LIMB, d, rounding_mode="floor")
    return (q1 << _LIMB) + q2


def _div_frac_integer(x: Tensor, d: Tensor) -> Tensor:
    """Integer-only ``floor((x << 32) / d)`` (``d >= 1``): one int64 division where
    ``x < 2^31``, long division for the larger numerators."""
    out = torch.div(x << FRAC_BITS, d, rounding_mode="floor")
    big = x >= _SMALL
    if bool(big.any()):
        where = torch.nonzero(big, as_tuple=True)
        out[where] = _long_div(x[where], d.expand_as(x)[where])
    return out


# A float64 quotient nudged up by 2^-46 is the true quotient or one above it: two roundings
# err by < 2^-51 relative, and the quotients here stay below 2^45.
_ESTIMATE_SCALE = float(ONE) * (1.0 + 2.0**-46)


def _div_frac_estimate(x: Tensor, d: Tensor) -> Tensor:
    """``floor((x << 32) / d)`` (``d >= 1``) from a float64 estimate and one exact correction.

    The estimate ``q`` is the quotient or one above it, so the remainder ``x·2^32 − q·d`` lies
    in ``(−d, d)``; computed modulo 2^64 (int64 products and shifts wrap) it is exact, and its
    sign bit (``>> 63`` is −1 or 0) takes the one back. Seven memory passes, against an int64
    division that x86 cannot vectorise.
    """
    scale = _ESTIMATE_SCALE / d.to(torch.float64)
    q = x.to(torch.float64).mul_(scale).to(torch.int64)
    rest = q * -d
    rest.add_(x, alpha=ONE)  # x·2^32 − q·d, modulo 2^64
    rest >>= 63
    q += rest
    return q


def _int64_wraps() -> bool:
    """Whether torch's int64 products and shifts wrap modulo 2^64 here (they do on every CPU
    and GPU we know of; if not, the integer-only quotient is used)."""
    probe = torch.full((257,), (1 << 40) + 12345, dtype=torch.int64)
    shifted = int((probe << FRAC_BITS)[-1])
    product = int((probe * ((1 << 30) + 7))[-1])

    def wrapped(value: int) -> int:
        value &= (1 << 64) - 1
        return value - (1 << 64) if value >= 1 << 63 else value

    v = (1 << 40) + 12345
    return shifted == wrapped(v << FRAC_BITS) and product == wrapped(v * ((1 << 30) + 7))


_WRAPS = _int64_wraps()


def div_frac(x: Tensor, d: Tensor | int) -> Tensor:
    """``(x << 32) / d`` truncated, elementwise with broadcasting; 0 where ``d == 0``.

    This is I32F32's ``safe_div`` for the non-negative values the epoch divides
    (``0 <= x < 2^45``, ``0 <= d < 2^47``, quotient below 2^45). ``x`` must have the full
    broadcast shape.
    """
    if isinstance(d, int):
        d = torch.tensor(d, dtype=torch.int64, device=x.device)
    zero = d == 0
    any_zero = bool(zero.any())
    safe = d.clamp(min=1) if any_zero else d
    out = _div_frac_estimate(x, safe) if _WRAPS else _div_frac_integer(x, safe)
    if any_zero:
        out.masked_fill_(zero.expand_as(out), 0)
    return out


def reciprocal(d: Tensor) -> Tensor:
    """``1 / d`` in I32F32, i.e. ``floor(2^64 / d)``, for ``2^32 <= d < 2^61`` (values >= 1).

    ``2^64`` does not fit an int64, so the quotient is ``4·(2^62 // d)`` plus the rest.
    """
    q = torch.div(torch.full_like(d, 1 << 62), d, rounding_mode="floor")
    rest = (1 << 62) - q * d
    return (q << 2) + torch.div(rest << 2, d, rounding_mode="floor")


def normalize(x: Tensor) -> Tensor:
    """``inplace_normalize``: ``x / Σx`` per element, unchanged when the sum is 0."""
    total = int(x.sum())
    return div_frac(x, total) if total != 0 else x.clone()


def col_normalize(m: Tensor) -> Tensor:
    """Divide each column by its sum (``inplace_col_normalize_sparse``); zero columns stay."""
    return div_frac(m, m.sum(dim=0))


def to_u16(x: Tensor) -> Tensor:
    """``fixed_proportion_to_u16``: ``floor(x·65535)`` saturated to 0..65535, as int64."""
    return ((x * U16_MAX) >> FRAC_BITS).clamp_(0, U16_MAX)


def max_upscale_u16(x: Tensor) -> Tensor:
    """``vec_max_upscale_to_u16`` for a vector of fractions (the legacy pruning score)."""
    if x.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=x.device)
    top = int(x.max())
    if top <= 0:
        return to_u16(x)
    # The chain scales differently above 32768.0; fractions never get there. x·65535 reaches
    # 2^48, too wide for div_frac: take the whole part of the quotient first.
    numerator = x * U16_MAX
    whole = torch.div(numerator, top, rounding_mode="floor")
    scaled = (whole << FRAC_BITS) + div_frac(numerator - whole * top, top)
    return ((scaled + HALF) >> FRAC_BITS).clamp_(0, U16_MAX)  # round half away from zero


def rao_amounts(share: Tensor, rao: int) -> Tensor:
    """``floor(share × rao)`` as the chain computes it in I96F32: ``(share_bits·rao) >> 32``.

    ``rao`` is split at bit 32 so no product leaves int64 (``rao < 2^62``).
    """
    high = share * (rao >> FRAC_BITS)
    return high.add_(mul_scalar(share, rao & _LOW32))


def stake_fractions(stake: Tensor, threshold: int, owner: int | None) -> list[int]:
    """Stake weight S as I32F32 bits (docs/epoch.md §2.2), from raw stake.

    Integer stake is used as is; float stake (fractional stake weights) is taken at its exact
    binary value truncated to I64F64. Normalising in I64F64 and narrowing to I32F32 truncates
    twice, which equals one ``floor(s·2^32 / Σs)``. Python ints: stakes are u64 and their sum
    can pass 2^63; there are only n of them.
    """
    values = stake.tolist()
    if stake.dtype.is_floating_point:
        scale = 1 << 64
        raw = [int(v * scale) for v in values]  # exact: v × 2^64 is a power-of-two scaling
        whole = [int(v) for v in values]
    else:
        raw = [int(v) for v in values]
        whole = raw
    kept = [
        0 if (w < threshold and uid != owner) else s
        for uid, (s, w) in enumerate(zip(raw, whole, strict=True))
    ]
    total = sum(kept)
    if total == 0:
        return [0] * len(kept)
    return [(s << FRAC_BITS) // total for s in kept]


def u16_fraction_table(device: torch.device) -> Tensor:
    """``floor(b·2^32 / 65535)`` for every u16 ``b``: Yuma3 reads stored bonds through it."""
    values = torch.arange(U16_MAX + 1, dtype=torch.int64, device=device)
    return torch.div(values << FRAC_BITS, U16_MAX, rounding_mode="floor")


# e truncated to 23 fractional bits (substrate-fixed keeps its constants as I9F23), widened.
E_BITS = 22802600 << (FRAC_BITS - 23)
_EXP_CLAMP = 20 * ONE


def exp_safe(x: Tensor) -> Tensor:
    """subtensor's ``exp_safe``: substrate-fixed's I32F32 ``exp`` on input clamped to ±20.

    The series is ``1 + x + Σ_{k=2..31} term_k`` with ``term_k = (term_{k−1}·x) / k``, each
    operation truncating; a negative input is ``1 / exp(|x|)``; 0 and 1 are special-cased.
    Within ±20 no step overflows, so the clamped function never hits the error branch.
    """
    x = x.clamp(-_EXP_CLAMP, _EXP_CLAMP)
    negative = x < 0
    magnitude = x.abs()
    result = magnitude + ONE
    term = magnitude.clone()
    for k in range(2, FRAC_BITS):
        term = mul_wide(magnitude, term)
        term = torch.div(term, k, rounding_mode="floor")
        result += term
    if bool(negative.any()):
        result = torch.where(negative, reciprocal(result), result)
    result = torch.where(x == 0, ONE, result)
    return torch.where(x == ONE, E_BITS, result)


__all__ = [
    "E_BITS",
    "FRAC_BITS",
    "HALF",
    "ONE",
    "col_normalize",
    "div_frac",
    "exp_safe",
    "max_upscale_u16",
    "mul",
    "mul_scalar",
    "mul_wide",
    "normalize",
    "rao_amounts",
    "ratio_bits",
    "reciprocal",
    "stake_fractions",
    "to_u16",
    "trunc_div",
    "u16_fraction_table",
]

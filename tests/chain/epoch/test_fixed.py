"""The fixed-point primitives against Python's unbounded integers (docs/epoch.md §5.1, §5.4)."""

from __future__ import annotations

import math
import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnetkit.chain.epoch.fixed import (
    ONE,
    div_frac,
    exp_safe,
    max_upscale_u16,
    mul,
    mul_scalar,
    mul_wide,
    rao_amounts,
    reciprocal,
    stake_fractions,
    to_u16,
)

BITS = st.integers(0, 2**33)


def _t(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


@given(st.lists(st.tuples(st.integers(-(2**44), 2**44), st.integers(-(2**32), 2**32)), max_size=50))
def test_products_floor_like_the_chains_128_bit_product(pairs) -> None:
    a, b = _t([x for x, _ in pairs]), _t([y for _, y in pairs])
    want = [(x * y) >> 32 for x, y in pairs]  # Python's >> floors, as i128 >> does
    assert mul(a, b).tolist() == want
    if pairs:
        s = pairs[0][1]
        assert mul_scalar(a, s).tolist() == [(x * s) >> 32 for x, _ in pairs]


@given(st.lists(st.tuples(st.integers(0, 20 * ONE), st.integers(0, 2**61)), max_size=50))
def test_wide_products(pairs) -> None:
    a, b = _t([x for x, _ in pairs]), _t([y for _, y in pairs])
    keep = [(x * y) >> 32 < 2**62 for x, y in pairs]
    got = mul_wide(a, b).tolist()
    assert [g for g, k in zip(got, keep, strict=True) if k] == [
        (x * y) >> 32 for (x, y), k in zip(pairs, keep, strict=True) if k
    ]


@given(st.lists(st.tuples(st.integers(0, 2**44), st.integers(0, 2**46)), max_size=60))
@settings(max_examples=200)
def test_quotients_truncate_and_divide_by_zero_gives_zero(pairs) -> None:
    pairs = [(x, d) for x, d in pairs if d == 0 or (x << 32) // d < 2**44]
    x, d = _t([p for p, _ in pairs]), _t([q for _, q in pairs])
    assert div_frac(x, d).tolist() == [(p << 32) // q if q else 0 for p, q in pairs]


def test_quotients_at_exact_multiples_and_one_below() -> None:
    """Where a float64 estimate is most likely to land on the wrong side of an integer."""
    rng = random.Random(5)
    xs, ds = [], []
    for _ in range(2000):
        d = rng.randrange(1, 2**40)
        q = rng.randrange(0, 2**33)
        for num in (q * d, q * d - 1, q * d + d - 1):
            if num >= 0 and num % (1 << 32) == 0 and num >> 32 < 2**44:
                xs.append(num >> 32)
                ds.append(d)
        x = rng.randrange(0, 2**40)
        xs.append(x)
        ds.append(max(1, (x << 32) // max(q, 1)))
    got = div_frac(_t(xs), _t(ds)).tolist()
    assert got == [(x << 32) // d for x, d in zip(xs, ds, strict=True)]


@given(st.lists(st.integers(ONE, 2**61 - 1), max_size=50))
def test_reciprocal(values) -> None:
    assert reciprocal(_t(values)).tolist() == [(1 << 64) // v for v in values]


def _exp_reference(x: int) -> int:
    """substrate-fixed's ``exp`` on I32F32 bits, step by step in Python integers."""
    x = max(-20 * ONE, min(20 * ONE, x))
    if x == 0:
        return ONE
    if x == ONE:
        return math.floor(math.e * 2**23) << 9
    magnitude = abs(x)
    result, term = magnitude + ONE, magnitude
    for k in range(2, 32):
        term = (term * magnitude) >> 32
        term = term // k
        result += term
    return (1 << 64) // result if x < 0 else result


@given(st.lists(st.integers(-30 * ONE, 30 * ONE), max_size=40))
@settings(max_examples=100)
def test_exp_is_substrate_fixeds_series(values) -> None:
    values += [0, ONE, -ONE, 20 * ONE, -20 * ONE, ONE // 2]
    assert exp_safe(_t(values)).tolist() == [_exp_reference(v) for v in values]
    # It is e^x to about 1e-8 relative for |x| <= 8 (e itself is kept to 23 fractional bits).
    # Further out the 31-term series falls short: exp(20) comes out 0.8 % low on the chain too.
    for v, got in zip(values, exp_safe(_t(values)).tolist(), strict=True):
        if abs(v) <= 8 * ONE:
            want = math.exp(v / ONE)
            assert abs(got / ONE - want) <= 1e-8 * want + 2.0**-22
    assert 0.99 < exp_safe(_t([20 * ONE])).item() / ONE / math.exp(20) < 0.995


def test_rao_amounts_are_i96f32_products_truncated() -> None:
    shares = [0, 1, ONE // 3, ONE // 2, ONE, ONE - 1]
    for rao in (0, 1, 10**9, 360 * 10**9, 2**53, 2**61 + 12345):
        got = rao_amounts(_t(shares), rao).tolist()
        assert got == [(s * rao) >> 32 for s in shares]


def test_stake_normalises_in_one_floor_with_threshold_and_owner_exemption() -> None:
    stake = _t([5, 3, 0, 2])
    assert stake_fractions(stake, 0, None) == [(s << 32) // 10 for s in (5, 3, 0, 2)]
    assert stake_fractions(stake, 3, None) == [(5 << 32) // 8, (3 << 32) // 8, 0, 0]
    assert stake_fractions(stake, 3, 3) == [(5 << 32) // 10, (3 << 32) // 10, 0, (2 << 32) // 10]
    # Fractional (float) stake weights count at their binary value.
    assert stake_fractions(torch.tensor([0.5, 1.5], dtype=torch.float64), 1, None) == [0, ONE]


def test_u16_forms() -> None:
    x = _t([0, 1, ONE // 2, ONE - 1, ONE])
    assert to_u16(x).tolist() == [(v * 65535) >> 32 for v in x.tolist()]
    # Max-upscaling rounds half away from zero, and the largest entry becomes 65535.
    assert max_upscale_u16(_t([ONE // 4, ONE // 2, 0])).tolist() == [32768, 65535, 0]
    assert max_upscale_u16(_t([0, 0])).tolist() == [0, 0]

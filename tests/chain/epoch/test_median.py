"""The vectorised consensus median equals the chain's literal partition search.

See docs/epoch.md §2.6.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnetkit.chain.epoch.median import (
    _select_torch,
    kappa_bits,
    normalized_stake_bits,
    weighted_median_columns,
)


def literal_weighted_median(stake: list[int], score: list[int], minority: int) -> int:
    """subtensor's ``weighted_median`` transcribed step by step from the spec, one column."""
    idx = list(range(len(stake)))
    lo, hi = 0, sum(stake)
    while True:
        if not idx:
            return 0
        if len(idx) == 1:
            return score[idx[0]]
        pivot = score[idx[len(idx) // 2]]
        lower = [i for i in idx if score[i] < pivot]
        upper = [i for i in idx if score[i] > pivot]
        lo_stake = sum(stake[i] for i in lower)
        hi_stake = sum(stake[i] for i in upper)
        if minority < lo + lo_stake and lower:
            idx, hi = lower, lo + lo_stake
        elif hi - hi_stake <= minority and upper:
            idx, lo = upper, hi - hi_stake
        else:
            return pivot


ONE = 1 << 32

# A handful of distinct score levels makes ties the rule, not the exception.
score_levels = st.sampled_from([0, 1, ONE // 7, ONE // 3, ONE // 2, ONE // 2 + 1, ONE - 1, ONE])


@st.composite
def median_case(draw: st.DrawFn) -> tuple[list[int], list[list[int]], int]:
    v = draw(st.integers(1, 9))
    n = draw(st.integers(1, 6))
    # Stakes that often land exactly on the kappa boundary: multiples of ONE / 2^k.
    parts = draw(st.lists(st.integers(0, 8), min_size=v, max_size=v))
    total = sum(parts) or 1
    stake = [p * ONE // total for p in parts]
    if draw(st.booleans()):
        stake = [p * (ONE // 16) for p in parts]
    scores = [[draw(score_levels) for _ in range(n)] for _ in range(v)]
    kappa = draw(st.sampled_from([0, 1, 16383, 32767, 32768, 49151, 65534, 65535]))
    return stake, scores, kappa


@given(median_case())
@settings(max_examples=300, deadline=None)
def test_vectorised_median_equals_literal_algorithm(case) -> None:
    stake, scores, kappa = case
    v, n = len(scores), len(scores[0])
    minority = sum(stake) - kappa_bits(kappa)
    got = weighted_median_columns(
        torch.tensor(stake, dtype=torch.int64), torch.tensor(scores, dtype=torch.int64), kappa
    ).tolist()
    want = [
        literal_weighted_median(stake, [scores[i][j] for i in range(v)], minority) for j in range(n)
    ]
    assert got == want
    # The torch path (used on CUDA) must agree too; it runs on CPU tensors as well.
    torch_path = _select_torch(
        torch.tensor(stake, dtype=torch.int64), torch.tensor(scores, dtype=torch.int64), minority
    )
    assert torch_path.tolist() == want


def test_kappa_boundary_exact() -> None:
    # Two validators with exactly half the stake each: the higher score is the consensus only
    # while its half of the stake reaches kappa (stake(score >= c) >= kappa).
    half = ONE // 2
    stake = torch.tensor([half, half], dtype=torch.int64)
    scores = torch.tensor([[ONE // 4], [ONE // 2]], dtype=torch.int64)
    for kappa in (0, 1, 32767, 32768, 65535):
        minority = ONE - kappa_bits(kappa)  # the stakes sum to exactly ONE
        want = literal_weighted_median(stake.tolist(), [ONE // 4, ONE // 2], minority)
        assert weighted_median_columns(stake, scores, kappa).tolist() == [want]


def test_no_validators_gives_zero_consensus() -> None:
    out = weighted_median_columns(
        torch.zeros(0, dtype=torch.int64), torch.zeros((0, 5), dtype=torch.int64), 32767
    )
    assert out.tolist() == [0] * 5


@given(
    st.lists(
        st.one_of(
            st.integers(0, ONE),
            st.sampled_from([0, 1, 3, ONE // 3, ONE // 2, ONE // 2 + 1, ONE - 1, ONE]),
        ),
        min_size=1,
        max_size=40,
    )
)
@settings(max_examples=200, deadline=None)
def test_stake_renormalisation_is_the_chains_integer_division(bits: list[int]) -> None:
    """``a_i = (A_i << 32) / ΣA`` truncated, as I32F32 division does; exact even where
    ``A_i << 32`` no longer fits an int64 (stakes of 1/2 and more)."""
    stake = torch.tensor(bits, dtype=torch.float64) / ONE  # snapped fractions, as the epoch has
    total = sum(bits)
    want = [(b << 32) // total if total else 0 for b in bits]
    assert normalized_stake_bits(stake).tolist() == want


def test_stake_renormalisation_examples() -> None:
    third = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64) / 4  # sums to 3/4
    assert normalized_stake_bits(third).tolist() == [(1 << 32) // 3] * 3
    assert normalized_stake_bits(torch.tensor([1.0], dtype=torch.float64)).tolist() == [ONE]
    assert normalized_stake_bits(torch.zeros(3, dtype=torch.float64)).tolist() == [0, 0, 0]
    # b·2^32 ≡ −1 (mod ΣA): the true quotient sits 1/ΣA below an integer, far inside one
    # float64 ulp, so a float division rounds up across it; the chain truncates.
    bits = [2071566121, 318803830]
    stake = torch.tensor(bits, dtype=torch.float64) / ONE
    assert normalized_stake_bits(stake).tolist() == [3722147166, 572820129]

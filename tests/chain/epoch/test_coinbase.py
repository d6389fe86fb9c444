"""Coinbase arithmetic: halvings, shares, injection, the alpha split, epoch payouts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subnetkit.chain.coinbase import (
    TOTAL_SUPPLY_RAO,
    AlphaSplit,
    block_emission,
    inject,
    split_alpha_out,
    subnet_shares,
)


def test_block_emission_halvings() -> None:
    half = TOTAL_SUPPLY_RAO // 2
    assert block_emission(0) == 1_000_000_000
    assert block_emission(half - 1) == 1_000_000_000
    assert block_emission(half) == 500_000_000
    assert block_emission(half + half // 2 - 1) == 500_000_000
    assert block_emission(half + half // 2) == 250_000_000
    assert block_emission(TOTAL_SUPPLY_RAO) == 0
    assert block_emission(TOTAL_SUPPLY_RAO + 5) == 0
    with pytest.raises(ValueError):
        block_emission(-1)


def test_subnet_shares() -> None:
    shares = subnet_shares({1: 1.0, 2: 3.0})
    assert shares == pytest.approx({1: 0.25, 2: 0.75})
    burned = subnet_shares({1: 1.0, 2: 1.0}, {1: 0.5})
    assert burned == pytest.approx({1: 1 / 3, 2: 2 / 3})
    # All weights zero after burning: fall back to pure price shares.
    assert subnet_shares({1: 1.0, 2: 1.0}, {1: 1.0, 2: 1.0}) == pytest.approx({1: 0.5, 2: 0.5})
    assert subnet_shares({1: 0.0}) == {1: 0.0}
    assert subnet_shares({}) == {}


def test_inject_caps_alpha_and_returns_excess() -> None:
    assert inject(1000, 2.0, 10_000) == (1000, 500, 0)
    tao_in, alpha_in, excess = inject(1000, 2.0, 100)
    assert (tao_in, alpha_in, excess) == (200, 100, 800)
    assert inject(1000, 0.0, 5) == (1000, 0, 0)


def test_split_alpha_out_default_owner_cut() -> None:
    split = split_alpha_out(1_000_000_000)
    assert split.owner_cut == 1_000_000_000 * 11796 // 65535 == 179_995_422
    assert split.server == (1_000_000_000 - split.owner_cut) // 2
    assert split.root == 0
    assert split.total == 1_000_000_000


@given(
    st.integers(0, 10**15),
    st.integers(0, 65535),
    st.floats(0, 1, allow_nan=False),
)
@settings(max_examples=100, deadline=None)
def test_split_alpha_out_conserves(alpha_out: int, cut: int, root_prop: float) -> None:
    split = split_alpha_out(alpha_out, cut, root_prop)
    assert isinstance(split, AlphaSplit)
    assert split.total == alpha_out
    assert min(split.owner_cut, split.server, split.validator, split.root) >= 0
    assert abs(split.server - (split.validator + split.root)) <= 1

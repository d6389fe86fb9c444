"""The payout splits of chain.distribution, each against a computation written out by hand."""

from __future__ import annotations

from subnetkit.chain.distribution import (
    U64_MAX,
    delegate_split,
    lent,
    parent_child_split,
    root_alpha_parts,
    scale_to,
    weighted,
)


def test_delegate_split_take_then_nominators_by_stake() -> None:
    # 1_000_000 rao to a hotkey owned by "own", take 11796/65535 (18%):
    #   take = floor(1_000_000 * 11796 / 65535) = floor(179_995.42) = 179_995
    #   rest = 1_000_000 - 179_995 = 820_005
    # stakers: own 600, nom_a 300, nom_b 100 (total 1000)
    #   own   floor(820_005 * 600 / 1000) = 492_003
    #   nom_a floor(820_005 * 300 / 1000) = 246_001
    #   nom_b floor(820_005 * 100 / 1000) =  82_000
    #   paid 820_004: the 1 rao of rounding goes to the owner
    # own = 179_995 + 492_003 + 1 = 671_999
    out = delegate_split(1_000_000, "own", 11796, {"own": 600, "nom_a": 300, "nom_b": 100})
    assert out == {"own": 671_999, "nom_a": 246_001, "nom_b": 82_000}
    assert sum(out.values()) == 1_000_000


def test_delegate_split_without_stakers_pays_the_owner() -> None:
    assert delegate_split(777, "own", 11796, {}) == {"own": 777}
    assert delegate_split(0, "own", 11796, {"x": 5}) == {}


def test_root_alpha_parts_by_stake_composition() -> None:
    # tao_weight = u64::MAX / 4 (0.25 up to 1 part in 2^64), alpha stake 300, root TAO 400:
    #   weighted root = 400 * 0.25 = 100 -> root_prop = 100 / (300 + 100) = 1/4
    #   exactly: root = floor(amount * tw * 400 / (300 * u64::MAX + tw * 400)) with
    #   tw = floor(u64::MAX / 4) = (u64::MAX - 3) / 4, a hair under a quarter:
    #   1_000_000 / 4 = 250_000 minus a fraction -> 249_999
    tw = U64_MAX // 4
    alpha_part, root_part = root_alpha_parts(1_000_000, 300, 400, tw)
    assert (alpha_part, root_part) == (750_001, 249_999)
    # no root stake, or root off (tao_weight 0): everything is alpha
    assert root_alpha_parts(1_000, 300, 0, tw) == (1_000, 0)
    assert root_alpha_parts(1_000, 300, 400, 0) == (1_000, 0)


def test_weighted_and_lent() -> None:
    # alpha 1000 + root 2000 * tao_weight(1/2 of u64::MAX, rounded down) = 1000 + 999 = 1999
    assert weighted(1000, 2000, U64_MAX // 2) == 1999
    # lending half of 1001 (proportion u64::MAX / 2) lends floor(1001 * 0.5 - tiny) = 500
    assert lent(1001, U64_MAX // 2) == 500
    assert lent(1000, U64_MAX) == 1000


def test_parent_child_split_with_childkey_take() -> None:
    # child earns 10_000. Its own weight 100, parent P lends 300 (total 400).
    #   P earned floor(10_000 * 300 / 400) = 7_500
    #   childkey take 6553/65535 (10%): child keeps floor(7_500 * 6553 / 65535) = 749
    #   P gets 7_500 - 749 = 6_751; child gets 10_000 - 6_751 = 3_249
    out = parent_child_split(10_000, 100, [("P", 300)], "C", 6553)
    assert out == {"P": 6_751, "C": 3_249}


def test_parent_child_split_two_parents_rounding_to_child() -> None:
    # 1_000 rao; own 1, parents A 1 and B 1 (total 3), no take:
    #   A floor(1000/3) = 333, B 333, child 1000 - 666 = 334
    assert parent_child_split(1_000, 1, [("A", 1), ("B", 1)], "C", 0) == {
        "A": 333,
        "B": 333,
        "C": 334,
    }


def test_scale_to_pays_a_pot_by_parts() -> None:
    # pot 1_000 by parts 1:2 -> floor(333.3) = 333, floor(666.6) = 666 (1 rao unpaid)
    assert scale_to(1_000, {"a": 1, "b": 2}) == {"a": 333, "b": 666}
    assert scale_to(1_000, {"a": 0}) == {}

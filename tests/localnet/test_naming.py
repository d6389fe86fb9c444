"""Neuron names: what the table and the JSON summary are keyed by."""

from __future__ import annotations

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.localnet.naming import plan_neurons, subnet_variants


def test_embedding_miners_cycle_variants_and_get_numbered_after_the_first_round() -> None:
    plans = plan_neurons(5, 2, ("good", "noisy", "random"))
    assert [(p.name, p.role, p.variant) for p in plans] == [
        ("validator-0", "validator", None),
        ("validator-1", "validator", None),
        ("miner-good", "miner", "good"),
        ("miner-noisy", "miner", "noisy"),
        ("miner-random", "miner", "random"),
        ("miner-3", "miner", "good"),
        ("miner-4", "miner", "noisy"),
    ]


def test_subnet_without_variants_numbers_its_miners() -> None:
    assert [p.name for p in plan_neurons(2, 1)] == ["validator-0", "miner-0", "miner-1"]
    assert subnet_variants("echo") == ()


def test_an_unknown_subnet_is_a_config_error_before_anything_starts() -> None:
    with pytest.raises(ConfigError, match=r"cannot import 'no_such_pkg\.module'"):
        subnet_variants("no_such_pkg.module:Class")
    with pytest.raises(ConfigError, match="unknown subnet 'nope'"):
        subnet_variants("nope")


def test_embedding_variants_are_known() -> None:
    assert subnet_variants("embedding")[:3] == ("good", "noisy", "random")


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        plan_neurons(-1, 0)

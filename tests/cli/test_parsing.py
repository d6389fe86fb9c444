"""``subnetkit.cli.parsing``: TAO amounts exact to the rao, hyperparameter values."""

from __future__ import annotations

import pytest

from subnetkit.cli.parsing import parse_hyperparameter_value, parse_tao
from subnetkit.core.errors import ConfigError
from tests.cli.support import TAO


@pytest.mark.parametrize(
    ("text", "rao"),
    [
        ("1", TAO),
        ("1.5", 1_500_000_000),
        ("0.000000001", 1),
        (" 2.25 ", 2_250_000_000),
        ("1e3", 1000 * TAO),
        ("0.1", 100_000_000),
    ],
)
def test_parse_tao_is_exact_to_the_rao(text: str, rao: int) -> None:
    assert parse_tao(text) == rao


@pytest.mark.parametrize("text", ["0", "-1", "abc", "nan", "inf", "1e-10", "0.0000000001", "1e30"])
def test_parse_tao_refuses_what_is_not_a_rao_amount(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_tao(text)


def test_hyperparameter_values_are_integers_or_flags() -> None:
    assert parse_hyperparameter_value("tempo", "99") == 99
    assert parse_hyperparameter_value("x", "0x10") == 16
    assert parse_hyperparameter_value("x", "true") == 1
    assert parse_hyperparameter_value("x", "False") == 0
    with pytest.raises(ConfigError, match="not an integer"):
        parse_hyperparameter_value("kappa", "0.5")

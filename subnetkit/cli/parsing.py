"""Turning flag values into what the chain takes, or a one-line ConfigError saying what to fix.

Amounts are typed in TAO (``1.5``) and sent in rao; alpha amounts use the same 1e9 base unit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from subnetkit.cli.options import DEFAULT_CHAIN_ENDPOINT
from subnetkit.core.errors import ConfigError

RAO_PER_TAO = 1_000_000_000
U64_MAX = 2**64 - 1


def check_endpoint(endpoint: str) -> str:
    """``HOST:PORT`` with a numeric port, else a one-line ConfigError."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--chain-endpoint {endpoint!r} is not HOST:PORT (e.g. {DEFAULT_CHAIN_ENDPOINT})"
        )
    return endpoint


def parse_tao(text: str, what: str = "--amount", unit: str = "TAO") -> int:
    """``"1.5"`` TAO -> 1_500_000_000 rao, exactly (no float rounding); at most 9 decimals.
    Alpha amounts use the same 1e9 base unit (``unit`` only changes the messages)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(f"{what} {text!r} is not a number of {unit} (e.g. 1.5)") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{what} {text!r} must be a positive number of {unit}")
    rao = value * RAO_PER_TAO
    if rao != rao.to_integral_value():
        raise ConfigError(f"{what} {text!r} has more than 9 decimals (the smallest unit is 1e-9)")
    if rao > U64_MAX:
        raise ConfigError(f"{what} {text!r} is larger than the chain can hold")
    return int(rao)


def parse_hyperparameter_value(name: str, text: str) -> int:
    """Hyperparameters are raw chain integers; ``true``/``false`` are accepted for 0/1 flags."""
    raw = text.strip().lower()
    if raw in ("true", "false"):
        return int(raw == "true")
    try:
        return int(raw, 0)
    except ValueError:
        raise ConfigError(
            f"{name} value {text!r} is not an integer: hyperparameters are raw chain integers "
            "(u16 fractions x65535, blocks, rao, 0/1)"
        ) from None


def check_address(address: str, what: str) -> str:
    """``address`` if it is SS58, else a one-line ConfigError naming the flag ``what``."""
    from subnetkit.core.keys import is_valid_ss58

    if not is_valid_ss58(address):
        raise ConfigError(f"{what} {address!r} is not an SS58 address")
    return address

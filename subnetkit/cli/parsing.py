"""Turning flag values into what the chain takes, or a one-line ConfigError saying what to fix.

Amounts are typed in TAO (``1.5``) and sent in rao; alpha amounts use the same 1e9 base unit.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext

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


#: takes are fractions stored over u16::MAX, as on subtensor
TAKE_DENOMINATOR = 65535


def parse_share(text: str, what: str) -> Decimal:
    """``"0.09"`` or ``"9%"`` -> Decimal("0.09"): a share between 0 and 1, else a ConfigError."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = Decimal(raw[:-1] if percent else raw)
    except InvalidOperation:
        raise ConfigError(f"{what} {text!r} is not a share: use e.g. 0.09 or 9%") from None
    if percent:
        value /= 100
    if not value.is_finite() or not 0 <= value <= 1:
        raise ConfigError(f"{what} {text!r} must be between 0 and 1 (0% and 100%)")
    return value


def parse_take(text: str, what: str = "--take") -> int:
    """A take (``"0.09"``, ``"9%"``) in the chain's units (/65535), within the chain's bound
    (subtensor's MaxDelegateTake and MaxChildkeyTake, 18%), else a ConfigError: a take the
    chain would refuse is refused before the coldkey is asked for."""
    from subnetkit.chain.transition.key_calls import MAX_TAKE

    units = int((parse_share(text, what) * TAKE_DENOMINATOR).to_integral_value())
    if units > MAX_TAKE:
        raise ConfigError(
            f"{what} {text!r} is {fmt_take(units)}: the chain allows at most "
            f"{fmt_take(MAX_TAKE)} ({MAX_TAKE}/{TAKE_DENOMINATOR})"
        )
    return units


def fmt_take(units: int) -> str:
    """A take in /65535 units as a percentage: 11796 -> ``18.00%``."""
    return f"{units * 100 / TAKE_DENOMINATOR:.2f}%"


def parse_children(values: list[str], parent: str) -> list[tuple[str, int]]:
    """``--child SS58=SHARE`` values -> ``(child, proportion / u64::MAX)``, checked as the chain
    checks them (at most five children, each once, never the parent, each share above 0, all
    together at most the whole parent), so a list the chain would refuse costs no password."""
    from subnetkit.chain.transition.key_calls import MAX_CHILDREN

    if len(values) > MAX_CHILDREN:
        raise ConfigError(f"{len(values)} --child values: a hotkey has at most {MAX_CHILDREN}")
    children: list[tuple[str, int]] = []
    for value in values:
        child, sep, share_text = value.partition("=")
        if not sep:
            raise ConfigError(f"--child {value!r} is not SS58=SHARE (e.g. 5F...=0.25)")
        check_address(child.strip(), "--child hotkey")
        share = parse_share(share_text, f"--child {child.strip()} share")
        if share == 0:
            raise ConfigError(f"--child {value!r}: a share must be above 0")
        if child.strip() == parent:
            raise ConfigError(f"--child {child.strip()} is the parent hotkey itself")
        if any(c == child.strip() for c, _ in children):
            raise ConfigError(f"--child {child.strip()} is given twice: give each child once")
        with localcontext() as exact:
            exact.prec = 100  # u64::MAX x a share, to the unit: no rounding up across one
            proportion = int((share * U64_MAX).to_integral_value(rounding=ROUND_FLOOR))
        children.append((child.strip(), proportion))
    if sum(p for _, p in children) > U64_MAX:
        raise ConfigError(
            "the children's shares add up to more than 1: a parent lends at most all of its "
            "stake weight (100%)"
        )
    return children

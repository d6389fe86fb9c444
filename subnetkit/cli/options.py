"""The options several commands share, defined once: the chain endpoint and its default,
``--format`` (an enum: text or json), query timeouts, wallet and key options.

Each is an ``Annotated`` type, so every command that takes one gets the same flag, environment
variable and help. Chain commands do not even list them: :func:`subnetkit.cli.chain_command.
chain_command` adds the connection and key options to a command and hands it a ready
``Connection`` and ``Keys``. A bad ``--format`` is refused while the flags are parsed, before a
command does anything, with one line (``error[config]: ...``) like every other bad input.

The endpoint's default is the neuron settings' (``subnetkit.core.settings``), so a miner, a
validator and the CLI look for the chain in the same place.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from subnetkit.core.errors import ConfigError
from subnetkit.core.settings import DEFAULT_CHAIN_ENDPOINT, DEFAULT_CHAIN_PORT

#: Seconds a chain query may take unless ``--timeout`` says otherwise.
DEFAULT_TIMEOUT = 10.0


class OutputFormat(StrEnum):
    """How a command prints: for people (rich text) or for programs (JSON on stdout)."""

    TEXT = "text"
    JSON = "json"


def parse_format(value: str | OutputFormat) -> OutputFormat:
    """``--format``'s value as an :class:`OutputFormat`; anything else is a one-line ConfigError."""
    if isinstance(value, OutputFormat):
        return value
    try:
        return OutputFormat(value)
    except ValueError:
        raise ConfigError(f"unknown --format {value!r}: use 'text' or 'json'") from None


def format_option(help: str = "text or json.") -> Any:
    """The ``--format`` option; ``help`` may say what the format applies to."""
    return typer.Option("--format", parser=parse_format, help=help)


Format = Annotated[OutputFormat, format_option()]
ChainEndpoint = Annotated[
    str,
    typer.Option(
        "--chain-endpoint",
        envvar="SUBNETKIT_CHAIN__ENDPOINT",
        help="HOST:PORT of the chain.",
    ),
]
Timeout = Annotated[
    float,
    typer.Option("--timeout", envvar="SUBNETKIT_CHAIN__TIMEOUT", help="Seconds per chain query."),
]
WalletName = Annotated[
    str, typer.Option("--wallet-name", envvar="SUBNETKIT_WALLET__NAME", help="Wallet to use.")
]
WalletHotkey = Annotated[
    str,
    typer.Option(
        "--wallet-hotkey", envvar="SUBNETKIT_WALLET__HOTKEY", help="Hotkey in the wallet."
    ),
]
WalletPath = Annotated[
    Path | None,
    typer.Option(
        "--wallet-path",
        envvar="SUBNETKIT_WALLET__PATH",
        help="Wallet root (default ~/.subnetkit/wallets).",
    ),
]
PasswordEnv = Annotated[
    str | None,
    typer.Option("--password-env", help="Environment variable holding the coldkey password."),
]
Uri = Annotated[
    str | None,
    typer.Option("--uri", help="Dev key URI (//Alice or alice) instead of a wallet, both keys."),
]
Netuid = Annotated[int, typer.Option("--netuid", min=0, help="Subnet id.")]
NetuidArgument = Annotated[int, typer.Argument(min=0, help="Subnet id.")]
HotkeyAddress = Annotated[
    str | None,
    typer.Option("--hotkey", help="Hotkey SS58 address (default: the wallet's hotkey)."),
]


__all__ = [
    "DEFAULT_CHAIN_ENDPOINT",
    "DEFAULT_CHAIN_PORT",
    "DEFAULT_TIMEOUT",
    "ChainEndpoint",
    "Format",
    "HotkeyAddress",
    "Netuid",
    "NetuidArgument",
    "OutputFormat",
    "PasswordEnv",
    "Timeout",
    "Uri",
    "WalletHotkey",
    "WalletName",
    "WalletPath",
    "format_option",
    "parse_format",
]

"""``@chain_command``: the options every chain command shares, added once instead of listed in
each command.

A chain command declares only its own options plus ``conn: Connection`` (and ``keys: Keys`` when
it reads or signs with a wallet). The decorator swaps those two parameters for the shared flags
(``--chain-endpoint``, ``--timeout``, ``--format``, and the wallet flags the command's
:class:`KeyOptions` names), so typer shows the same flags with the same help everywhere, and
builds the ``Connection`` (which checks the endpoint and timeout) and ``Keys`` before the command
body runs. Adding a shared flag, or changing one's default, is then one edit here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar, get_type_hints

from subnetkit.cli.options import (
    DEFAULT_CHAIN_ENDPOINT,
    DEFAULT_TIMEOUT,
    ChainEndpoint,
    Format,
    OutputFormat,
    PasswordEnv,
    Timeout,
    Uri,
    WalletHotkey,
    WalletName,
    WalletPath,
)
from subnetkit.cli.session import Connection, Keys

R = TypeVar("R")

#: (parameter, its Annotated type, its default): what a Connection is built from
_CONNECTION_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("endpoint", ChainEndpoint, DEFAULT_CHAIN_ENDPOINT),
    ("timeout", Timeout, DEFAULT_TIMEOUT),
    ("fmt", Format, OutputFormat.TEXT),
)
#: what a Keys is built from; the names are Keys' fields
_KEY_OPTIONS: dict[str, tuple[Any, Any]] = {
    "wallet_name": (WalletName, "default"),
    "wallet_hotkey": (WalletHotkey, "default"),
    "wallet_path": (WalletPath, None),
    "password_env": (PasswordEnv, None),
    "uri": (Uri, None),
}


class KeyOptions(Enum):
    """Which wallet flags a command takes: only those it uses, so none is silently ignored."""

    #: the coldkey signs and the wallet's hotkey is the default target (register, stake add)
    SIGNING = ("wallet_name", "wallet_hotkey", "wallet_path", "password_env", "uri")
    #: the coldkey signs and no hotkey is involved (transfer, subnet set)
    COLDKEY = ("wallet_name", "wallet_path", "password_env", "uri")
    #: only the coldkey's public address is read, nothing is decrypted (stake list)
    ADDRESS = ("wallet_name", "wallet_path", "uri")
    #: the hotkey signs (axon set, set-weights): no coldkey, no password
    HOTKEY = ("wallet_name", "wallet_hotkey", "wallet_path", "uri")


def _parameter(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def chain_command(
    keys: KeyOptions | None = None,
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give the decorated command the shared chain flags (and ``keys``' wallet flags); it is
    called with ``conn=Connection(...)`` (and ``keys=Keys(...)``) instead of them."""

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        hints = get_type_hints(command, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(command).parameters.values()
            if p.name not in ("conn", "keys")
        ]
        shared = [_parameter(*option) for option in _CONNECTION_OPTIONS]
        key_names = keys.value if keys is not None else ()
        shared += [_parameter(name, *_KEY_OPTIONS[name]) for name in key_names]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> R:
            conn = Connection(*(kwargs.pop(name) for name, _, _ in _CONNECTION_OPTIONS))
            if keys is not None:
                kwargs["keys"] = Keys(**{name: kwargs.pop(name) for name in key_names})
            return command(*args, conn=conn, **kwargs)

        parameters = own + shared
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate


__all__ = ["KeyOptions", "chain_command"]

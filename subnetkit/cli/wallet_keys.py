"""``subnetkit wallet balance|regen-coldkey|regen-hotkey``: a wallet's free balance on chain,
and keys written back from their mnemonics.

A mnemonic is a secret: it is read from an environment variable (``--mnemonic-env``) or typed
at a hidden prompt, never taken from the command line, where ``ps`` and shell history would
keep it.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from subnetkit.cli.chain_command import chain_command
from subnetkit.cli.options import Format, OutputFormat, WalletPath
from subnetkit.cli.output import fmt_tao
from subnetkit.cli.session import Connection
from subnetkit.cli.wallet import _describe, _echo_json, _root, wallet_app

WalletNameOption = Annotated[
    str, typer.Option("--name", envvar="SUBNETKIT_WALLET__NAME", help="Wallet name.")
]
MnemonicEnv = Annotated[
    str | None,
    typer.Option(
        "--mnemonic-env", help="Environment variable holding the mnemonic (else: a prompt)."
    ),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace a different key.")]
Bittensor = Annotated[bool, typer.Option("--bittensor", help="Use ~/.bittensor/wallets.")]


def read_mnemonic(env: str | None) -> str:
    """The mnemonic from ``env`` or a hidden prompt on a terminal; a WalletError otherwise."""
    from subnetkit.core.errors import WalletError

    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise WalletError(f"environment variable {env} (from --mnemonic-env) is unset or empty")
        return value
    if not sys.stdin.isatty():
        raise WalletError("give the mnemonic with --mnemonic-env VAR (no terminal to prompt on)")
    return str(typer.prompt("Mnemonic", hide_input=True, err=True)).strip()


@wallet_app.command("balance")
@chain_command()
def balance_cmd(
    conn: Connection,
    name: WalletNameOption = "default",
    wallet_path: WalletPath = None,
    bittensor: Bittensor = False,
) -> None:
    """The coldkey's free balance on chain (reads coldkeypub.txt: nothing is decrypted)."""
    from subnetkit.core import wallet

    address = wallet.coldkeypub(name, path=_root(wallet_path, bittensor))
    rao = conn.run(lambda client: client.balance(address))
    doc = {"wallet": name, "coldkey": address, "balance_rao": rao, "balance_tao": rao / 1e9}
    conn.emit(doc, lambda: typer.echo(f"{name}: {fmt_tao(rao)} TAO free ({address})"))


def _regen(
    name: str,
    hotkey: str | None,
    wallet_path: Any,
    bittensor: bool,
    mnemonic_env: str | None,
    password: str | None,
    overwrite: bool,
    crypto: str,
    fmt: OutputFormat,
) -> None:
    from subnetkit.core import wallet

    info = wallet.regenerate_key(
        name,
        read_mnemonic(mnemonic_env),
        hotkey=hotkey,
        path=_root(wallet_path, bittensor),
        crypto=crypto,
        password=password,
        overwrite=overwrite,
    )
    if fmt is OutputFormat.JSON:
        _echo_json(info.to_dict())
        return
    typer.echo(f"regenerated the {'coldkey' if hotkey is None else 'hotkey ' + hotkey} of {name}")
    for line in _describe(info):
        typer.echo(line)


@wallet_app.command("regen-coldkey")
def regen_coldkey_cmd(
    name: WalletNameOption = "default",
    mnemonic_env: MnemonicEnv = None,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Encrypt with the password in this variable."),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Leave the coldkey unencrypted (dev only).")
    ] = False,
    overwrite: Overwrite = False,
    crypto: Annotated[str, typer.Option("--crypto", help="sr25519 or ed25519.")] = "sr25519",
    wallet_path: WalletPath = None,
    bittensor: Bittensor = False,
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Write a wallet's coldkey back from its mnemonic (its hotkeys are left alone)."""
    from subnetkit.core import wallet
    from subnetkit.core.errors import ConfigError, WalletError

    if no_password and password_env:
        raise ConfigError("give either --password-env or --no-password, not both")
    password = None if no_password else wallet.resolve_password(password_env)
    if password is None and not no_password:
        if not sys.stdin.isatty():
            raise WalletError(
                "the coldkey needs a password: pass --password-env VAR, or --no-password for a "
                "throwaway dev wallet"
            )
        password = typer.prompt(
            "Coldkey password", hide_input=True, confirmation_prompt=True, err=True
        )
    _regen(name, None, wallet_path, bittensor, mnemonic_env, password, overwrite, crypto, fmt)


@wallet_app.command("regen-hotkey")
def regen_hotkey_cmd(
    name: WalletNameOption = "default",
    hotkey: Annotated[
        str, typer.Option("--hotkey", envvar="SUBNETKIT_WALLET__HOTKEY", help="Hotkey name.")
    ] = "default",
    mnemonic_env: MnemonicEnv = None,
    overwrite: Overwrite = False,
    crypto: Annotated[str, typer.Option("--crypto", help="sr25519 or ed25519.")] = "sr25519",
    wallet_path: WalletPath = None,
    bittensor: Bittensor = False,
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Write one of a wallet's hotkeys back from its mnemonic (no coldkey password needed)."""
    _regen(name, hotkey, wallet_path, bittensor, mnemonic_env, None, overwrite, crypto, fmt)

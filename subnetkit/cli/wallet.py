"""``subnetkit wallet create|list|show``: btcli-layout wallets from the command line (``balance``
and ``regen-coldkey|regen-hotkey`` live in wallet_keys.py).

Output carries addresses only. The one exception is ``create --show-mnemonic``, which writes
fresh mnemonics to the terminal for the user to copy down (btcli users expect it); it refuses
to run when stdout is not a terminal, so a mnemonic never lands in a pipe, file or CI log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from subnetkit.cli.options import Format, OutputFormat, WalletPath

wallet_app = typer.Typer(
    help="Create and inspect wallets (btcli's on-disk layout).", no_args_is_help=True
)


def _root(wallet_path: Path | None, bittensor: bool) -> Path:
    from subnetkit.core import wallet
    from subnetkit.core.errors import ConfigError

    if bittensor and wallet_path is not None:
        raise ConfigError("give either --bittensor or --wallet-path, not both")
    if bittensor:
        return wallet.resolve_path(wallet.BITTENSOR_WALLET_PATH)
    return wallet.resolve_path(wallet_path or wallet.DEFAULT_WALLET_PATH)


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2))


def _describe(info: Any) -> list[str]:
    """Human lines for one wallet: addresses and key types only."""
    if info.coldkey_ss58 is None:
        cold = "coldkey   (no coldkeypub.txt)"
    else:
        lock = {True: "encrypted", False: "NOT encrypted", None: "no private key here"}
        state = lock[info.coldkey_encrypted]
        cold = f"coldkey   {info.coldkey_ss58}  ({info.coldkey_crypto}, {state})"
    lines = [f"{info.name}  {info.path}", f"  {cold}"]
    if not info.hotkeys:
        lines.append("  (no hotkeys)")
    for hotkey, ss58 in info.hotkeys.items():
        lines.append(f"  hotkey    {hotkey}: {ss58}  ({info.hotkey_crypto.get(hotkey)})")
    return lines


@wallet_app.command("create")
def create_cmd(
    name: str = typer.Option("default", "--name", envvar="SUBNETKIT_WALLET__NAME"),
    hotkey: str = typer.Option("default", "--hotkey", envvar="SUBNETKIT_WALLET__HOTKEY"),
    wallet_path: WalletPath = None,
    bittensor: bool = typer.Option(False, "--bittensor", help="Use ~/.bittensor/wallets."),
    crypto: str = typer.Option("sr25519", "--crypto", help="sr25519 or ed25519."),
    uri: str | None = typer.Option(
        None, "--uri", help="Dev key URI for both keys, e.g. //Alice or alice."
    ),
    hotkey_uri: str | None = typer.Option(None, "--hotkey-uri", help="Dev key URI for the hotkey."),
    password_env: str | None = typer.Option(
        None, "--password-env", help="Read the coldkey password from this environment variable."
    ),
    no_password: bool = typer.Option(
        False, "--no-password", help="Leave the coldkey unencrypted (throwaway dev wallets)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing keys."),
    show_mnemonic: bool = typer.Option(
        False, "--show-mnemonic", help="Print fresh mnemonics to the terminal (TTY only)."
    ),
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Create a wallet (coldkey + hotkey), or add a hotkey to an existing wallet."""
    from subnetkit.core import wallet
    from subnetkit.core.errors import ConfigError, WalletError

    root = _root(wallet_path, bittensor)
    if no_password and password_env:
        raise ConfigError("give either --password-env or --no-password, not both")
    if show_mnemonic and not sys.stdout.isatty():
        raise WalletError(
            "--show-mnemonic needs a terminal on stdout: mnemonics are never written to pipes "
            "or files (run it interactively, or drop the flag)"
        )

    password: str | None = None
    has_coldkey = any((root / name / f).exists() for f in ("coldkey", "coldkeypub.txt"))
    needs_coldkey = overwrite or not has_coldkey
    if needs_coldkey and not no_password:
        password = wallet.resolve_password(password_env)
        if password is None:
            if not sys.stdin.isatty():
                raise WalletError(
                    "the coldkey needs a password: pass --password-env VAR, or --no-password "
                    "for a throwaway dev wallet"
                )
            password = typer.prompt(
                "Coldkey password", hide_input=True, confirmation_prompt=True, err=True
            )

    mnemonics: list[tuple[str, str]] = []
    info = wallet.create_wallet(
        name,
        hotkey,
        path=root,
        crypto=crypto,
        uri=uri,
        hotkey_uri=hotkey_uri,
        password=password,
        overwrite=overwrite,
        on_mnemonic=(lambda who, words: mnemonics.append((who, words))) if show_mnemonic else None,
    )
    if fmt is OutputFormat.JSON:
        _echo_json(info.to_dict())
    else:
        typer.echo(f"wallet ready: {name} / {hotkey}")
        for line in _describe(info):
            typer.echo(line)
    for who, words in mnemonics:  # only reached on a TTY (checked above)
        typer.echo(f"\n{who} mnemonic (write it down, it is shown once):\n  {words}")


@wallet_app.command("list")
def list_cmd(
    wallet_path: WalletPath = None,
    bittensor: bool = typer.Option(False, "--bittensor", help="Use ~/.bittensor/wallets."),
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """List every wallet under the root with its coldkey and hotkey addresses."""
    from subnetkit.core import wallet

    root = _root(wallet_path, bittensor)
    infos = wallet.list_wallets(root)
    if fmt is OutputFormat.JSON:
        _echo_json([info.to_dict() for info in infos])
        return
    if not infos:
        typer.echo(f"no wallets under {root} (create one with `subnetkit wallet create`)")
        return
    for info in infos:
        for line in _describe(info):
            typer.echo(line)


@wallet_app.command("show")
def show_cmd(
    name: str = typer.Option("default", "--name", envvar="SUBNETKIT_WALLET__NAME"),
    wallet_path: WalletPath = None,
    bittensor: bool = typer.Option(False, "--bittensor", help="Use ~/.bittensor/wallets."),
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Show one wallet's addresses and key types (reads public files only)."""
    from subnetkit.core import wallet

    info = wallet.wallet_info(name, path=_root(wallet_path, bittensor))
    if fmt is OutputFormat.JSON:
        _echo_json(info.to_dict())
        return
    for line in _describe(info):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    from subnetkit.cli import wallet_keys  # noqa: F401  (adds balance and regen-* to wallet_app)

    app.add_typer(wallet_app, name="wallet")

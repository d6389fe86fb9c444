"""Reading wallets: what a wallet holds (public files only) and loading its keys as signers.

Hotkeys are plain in btcli's layout and load in microseconds. A coldkey is usually encrypted:
decrypting it costs ~5 s of argon2i that holds the GIL (see :mod:`subnetkit.core.wallet`).
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bittensor_wallet import Keyfile

from subnetkit.core.errors import WalletError
from subnetkit.core.keyfiles import (
    NAME_RE,
    PUB_SUFFIX,
    check_name,
    crypto_name,
    decrypt,
    read_public,
)
from subnetkit.core.keys import Signer

DEFAULT_WALLET_PATH = Path("~/.subnetkit/wallets")
BITTENSOR_WALLET_PATH = Path("~/.bittensor/wallets")


@dataclass(frozen=True)
class WalletInfo:
    """The public face of one wallet: addresses and key types, never secrets."""

    name: str
    path: Path
    coldkey_ss58: str | None
    hotkeys: dict[str, str] = field(default_factory=dict)
    coldkey_crypto: str | None = None
    coldkey_encrypted: bool | None = None
    hotkey_crypto: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``--format json``)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "coldkey": {
                "ss58": self.coldkey_ss58,
                "crypto": self.coldkey_crypto,
                "encrypted": self.coldkey_encrypted,
            },
            "hotkeys": [
                {"name": h, "ss58": ss58, "crypto": self.hotkey_crypto.get(h)}
                for h, ss58 in self.hotkeys.items()
            ],
        }


def resolve_path(path: Path | str) -> Path:
    """The wallet root with ``~`` expanded (the layout is always absolute on disk)."""
    return Path(path).expanduser()


def _existing_wallet_dir(root: Path, name: str) -> Path:
    folder = root / check_name(name, "wallet name")
    if not folder.is_dir():
        raise WalletError(
            f"no wallet {name!r} under {root}: create it with "
            f"`subnetkit wallet create --name {name}` or point --wallet-path at the right root"
        )
    return folder


def wallet_info(name: str, *, path: Path | str = DEFAULT_WALLET_PATH) -> WalletInfo:
    """Addresses and key types of wallet ``name`` (reads only public files; never decrypts)."""
    root = resolve_path(path)
    wallet_dir = _existing_wallet_dir(root, name)
    cold = read_public(wallet_dir / "coldkeypub.txt")
    coldkey_file = wallet_dir / "coldkey"
    encrypted: bool | None = None
    if coldkey_file.is_file():
        try:
            encrypted = Keyfile(path=str(coldkey_file)).is_encrypted()
        except Exception:
            encrypted = None
        if cold is None and encrypted is False:
            cold = read_public(coldkey_file)
    hotkeys: dict[str, str] = {}
    hotkey_crypto: dict[str, str] = {}
    hot_dir = wallet_dir / "hotkeys"
    if hot_dir.is_dir():
        names = set()
        for entry in hot_dir.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            base = (
                entry.name.removesuffix(PUB_SUFFIX)
                if entry.name.endswith(PUB_SUFFIX)
                else entry.name
            )
            names.add(base)
        for hotkey in sorted(names):
            keypair = read_public(hot_dir / f"{hotkey}{PUB_SUFFIX}") or read_public(
                hot_dir / hotkey
            )
            if keypair is not None:
                hotkeys[hotkey] = keypair.ss58_address
                hotkey_crypto[hotkey] = crypto_name(keypair)
    return WalletInfo(
        name=name,
        path=wallet_dir,
        coldkey_ss58=cold.ss58_address if cold else None,
        hotkeys=hotkeys,
        coldkey_crypto=crypto_name(cold) if cold else None,
        coldkey_encrypted=encrypted,
        hotkey_crypto=hotkey_crypto,
    )


def list_wallets(path: Path | str = DEFAULT_WALLET_PATH) -> list[WalletInfo]:
    """Every wallet under ``path``, sorted by name; an absent root is simply empty."""
    root = resolve_path(path)
    if not root.is_dir():
        return []
    wallets = []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or not NAME_RE.match(entry.name):
            continue
        looks_like_wallet = any(
            (entry / part).exists() for part in ("coldkey", "coldkeypub.txt", "hotkeys")
        )
        if looks_like_wallet:
            wallets.append(wallet_info(entry.name, path=root))
    return wallets


def coldkeypub(name: str, *, path: Path | str = DEFAULT_WALLET_PATH) -> str:
    """The SS58 address of wallet ``name``'s coldkey, from ``coldkeypub.txt`` (no password)."""
    wallet_dir = _existing_wallet_dir(resolve_path(path), name)
    keypair = read_public(wallet_dir / "coldkeypub.txt")
    if keypair is None:
        raise WalletError(
            f"wallet {name!r} has no readable coldkeypub.txt in {wallet_dir}: "
            "recreate it with `subnetkit wallet create --overwrite` or restore the file"
        )
    return keypair.ss58_address


def load_hotkey(
    name: str,
    hotkey: str = "default",
    *,
    path: Path | str = DEFAULT_WALLET_PATH,
    password: str | None = None,
) -> Signer:
    """The hotkey that signs requests and weights. Plain in btcli's default layout, so fast."""
    wallet_dir = _existing_wallet_dir(resolve_path(path), name)
    keyfile_path = wallet_dir / "hotkeys" / check_name(hotkey, "hotkey name")
    if not keyfile_path.is_file():
        raise WalletError(
            f"wallet {name!r} has no hotkey {hotkey!r} in {keyfile_path.parent}: create it with "
            f"`subnetkit wallet create --name {name} --hotkey {hotkey}`"
        )
    keyfile = Keyfile(path=str(keyfile_path))
    what = f"hotkey {hotkey!r} of wallet {name!r}"
    return Signer(decrypt(keyfile, password, what))


def load_coldkey(
    name: str,
    *,
    path: Path | str = DEFAULT_WALLET_PATH,
    password: str | None = None,
    password_env: str | None = None,
    interactive: bool = False,
) -> Signer:
    """The coldkey (stake, transfer, registration, subnet ops), decrypted.

    The password comes from ``password``, else the environment variable ``password_env``,
    else, with ``interactive=True`` and a terminal on stdin, a prompt. Takes seconds when the
    key is encrypted (argon2i) and holds the GIL meanwhile: call it before starting the
    event loop, not from a coroutine or a worker thread next to one.
    """
    wallet_dir = _existing_wallet_dir(resolve_path(path), name)
    keyfile_path = wallet_dir / "coldkey"
    if not keyfile_path.is_file():
        raise WalletError(
            f"wallet {name!r} has no coldkey file in {wallet_dir} (a hotkey-only copy?): "
            "run this where the coldkey lives"
        )
    keyfile = Keyfile(path=str(keyfile_path))
    if keyfile.is_encrypted() and password is None:
        password = resolve_password(
            password_env, interactive=interactive, prompt=f"Password for wallet {name!r}: "
        )
        if password is None:
            raise WalletError(
                f"the coldkey of wallet {name!r} is encrypted: give its password "
                "(--password-env VAR names an environment variable holding it)"
            )
    return Signer(decrypt(keyfile, password, f"the coldkey of wallet {name!r}"))


def resolve_password(
    password_env: str | None, *, interactive: bool = False, prompt: str = "Password: "
) -> str | None:
    """A password from the environment variable ``password_env``, or a prompt, or None.

    Kept in one place so every command treats ``--password-env`` the same way: naming a
    variable that is unset or empty is an error, never a silent fall back to no password.
    """
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise WalletError(
                f"environment variable {password_env} (from --password-env) is unset or empty: "
                "export the password in it"
            )
        return value
    if interactive and sys.stdin.isatty():
        return getpass.getpass(prompt)
    return None

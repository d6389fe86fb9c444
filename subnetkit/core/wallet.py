"""Wallets on disk in btcli's layout, read and written through ``bittensor-wallet``.

A wallet is a directory ``<root>/<name>/`` holding ``coldkey`` (encrypted with a password unless
made for throwaway dev use), ``coldkeypub.txt``, and ``hotkeys/<H>`` plus ``hotkeys/<H>pub.txt``
(plain, as btcli writes them). Keeping btcli's exact files means a wallet made here works with
btcli and the Bittensor SDK, and an existing ``~/.bittensor/wallets`` works here unchanged.

We write keyfiles through bittensor-wallet's ``Wallet.set_*`` methods (its format, its
encryption: NaCl secretbox with an argon2i key) but generate keys and decide about existing
files ourselves, so nothing here ever prompts or prints on its own. Secrets never leave this
module except as :class:`~subnetkit.core.keys.Signer` objects (which do not show them) and through
the explicit ``on_mnemonic`` callback of :func:`create_wallet`.

Encrypting or decrypting a coldkey costs ~5 s on purpose (argon2i, "sensitive" limits), and
bittensor-wallet does it WITHOUT releasing the GIL: a worker thread does not keep an event loop
responsive. Load coldkeys before ``asyncio.run`` (CLI commands are synchronous) or in a
separate process. Hotkeys are plain and load in microseconds.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bittensor_wallet import Keyfile, Keypair, Wallet

from subnetkit.core.errors import WalletError
from subnetkit.core.keys import DEV_ACCOUNTS, Signer, crypto_id

log = logging.getLogger(__name__)

DEFAULT_WALLET_PATH = Path("~/.subnetkit/wallets")
BITTENSOR_WALLET_PATH = Path("~/.bittensor/wallets")

_CRYPTO_NAMES = {0: "ed25519", 1: "sr25519"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_PUB_SUFFIX = "pub.txt"

#: Called with (which key, mnemonic) for every freshly generated key: "coldkey" or "hotkey <H>".
MnemonicSink = Callable[[str, str], None]


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


# ----------------------------------------------------------------------------- helpers


def resolve_path(path: Path | str) -> Path:
    """The wallet root with ``~`` expanded (the layout is always absolute on disk)."""
    return Path(path).expanduser()


def _check_name(value: str, what: str) -> str:
    """Wallet and hotkey names become path components, so they must be plain names."""
    if not _NAME_RE.match(value or ""):
        raise WalletError(
            f"invalid {what} {value!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "not starting with '.' or '-'"
        )
    return value


class _MuteOneThread:
    """A stand-in for ``sys.stdout`` that drops one thread's writes and forwards the rest.

    ``contextlib.redirect_stdout`` would silence every thread in the process, for as long as
    a keyfile operation runs; other threads' output must still get through.
    """

    def __init__(self, target: Any, thread_id: int) -> None:
        self._target = target
        self.thread_id: int | None = thread_id

    def write(self, text: str) -> int:
        if threading.get_ident() == self.thread_id:
            return len(text)
        return int(self._target.write(text))

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


_QUIET_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow bittensor-wallet's "Encrypting..."/"Decrypting..." prints (from its Rust core,
    through Python's ``print``): they would corrupt ``--format json`` output and say nothing
    we do not. One keyfile operation at a time: each argon2 run takes ~1 GiB anyway."""
    with _QUIET_LOCK:
        original = sys.stdout
        mute = _MuteOneThread(original, threading.get_ident())
        sys.stdout = mute
        try:
            yield
        finally:
            mute.thread_id = None  # forwards everything if someone captured it meanwhile
            if sys.stdout is mute:
                sys.stdout = original


def _wallet(root: Path, name: str, hotkey: str = "default") -> Wallet:
    return Wallet(name=name, hotkey=hotkey, path=str(root))


def _crypto_name(keypair: Keypair) -> str:
    return _CRYPTO_NAMES.get(keypair.crypto_type, str(keypair.crypto_type))


def _normalize_uri(uri: str) -> str:
    """Accept btcli's short dev names (``alice``) as well as full URIs (``//Alice``)."""
    if not uri.startswith("/") and uri.capitalize() in DEV_ACCOUNTS:
        return f"//{uri.capitalize()}"
    return uri


def _keypair_from_uri(uri: str, crypto: str) -> Keypair:
    # Signer.from_uri turns a bad URI into a WalletError without echoing the (secret) URI.
    return Signer.from_uri(_normalize_uri(uri), crypto).keypair


def _fresh_keypair(crypto: str, n_words: int) -> tuple[Keypair, str]:
    mnemonic = Keypair.generate_mnemonic(n_words)
    return Keypair.create_from_mnemonic(mnemonic, crypto_type=crypto_id(crypto)), mnemonic


def _read_public(path: Path) -> Keypair | None:
    """The public keypair stored in a plain keyfile, or None if absent/encrypted/corrupt."""
    if not path.is_file():
        return None
    try:
        keyfile = Keyfile(path=str(path))
        if keyfile.is_encrypted():
            return None
        return keyfile.keypair
    except Exception as exc:  # a corrupt file must not break listing the others
        log.warning("skipping unreadable keyfile %s: %s", path, exc)
        return None


def _wallet_dir(root: Path, name: str) -> Path:
    wallet_dir = root / _check_name(name, "wallet name")
    if not wallet_dir.is_dir():
        raise WalletError(
            f"no wallet {name!r} under {root}: create it with "
            f"`subnetkit wallet create --name {name}` or point --wallet-path at the right root"
        )
    return wallet_dir


# ----------------------------------------------------------------------------- reading


def wallet_info(name: str, *, path: Path | str = DEFAULT_WALLET_PATH) -> WalletInfo:
    """Addresses and key types of wallet ``name`` (reads only public files; never decrypts)."""
    root = resolve_path(path)
    wallet_dir = _wallet_dir(root, name)
    cold = _read_public(wallet_dir / "coldkeypub.txt")
    coldkey_file = wallet_dir / "coldkey"
    encrypted: bool | None = None
    if coldkey_file.is_file():
        try:
            encrypted = Keyfile(path=str(coldkey_file)).is_encrypted()
        except Exception:
            encrypted = None
        if cold is None and encrypted is False:
            cold = _read_public(coldkey_file)
    hotkeys: dict[str, str] = {}
    hotkey_crypto: dict[str, str] = {}
    hot_dir = wallet_dir / "hotkeys"
    if hot_dir.is_dir():
        names = set()
        for entry in hot_dir.iterdir():
            if entry.name.startswith(".") or not entry.is_file():
                continue
            base = (
                entry.name.removesuffix(_PUB_SUFFIX)
                if entry.name.endswith(_PUB_SUFFIX)
                else entry.name
            )
            names.add(base)
        for hotkey in sorted(names):
            keypair = _read_public(hot_dir / f"{hotkey}{_PUB_SUFFIX}") or _read_public(
                hot_dir / hotkey
            )
            if keypair is not None:
                hotkeys[hotkey] = keypair.ss58_address
                hotkey_crypto[hotkey] = _crypto_name(keypair)
    return WalletInfo(
        name=name,
        path=wallet_dir,
        coldkey_ss58=cold.ss58_address if cold else None,
        hotkeys=hotkeys,
        coldkey_crypto=_crypto_name(cold) if cold else None,
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
        if not entry.is_dir() or not _NAME_RE.match(entry.name):
            continue
        looks_like_wallet = any(
            (entry / part).exists() for part in ("coldkey", "coldkeypub.txt", "hotkeys")
        )
        if looks_like_wallet:
            wallets.append(wallet_info(entry.name, path=root))
    return wallets


def coldkeypub(name: str, *, path: Path | str = DEFAULT_WALLET_PATH) -> str:
    """The SS58 address of wallet ``name``'s coldkey, from ``coldkeypub.txt`` (no password)."""
    wallet_dir = _wallet_dir(resolve_path(path), name)
    keypair = _read_public(wallet_dir / "coldkeypub.txt")
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
    wallet_dir = _wallet_dir(resolve_path(path), name)
    keyfile_path = wallet_dir / "hotkeys" / _check_name(hotkey, "hotkey name")
    if not keyfile_path.is_file():
        raise WalletError(
            f"wallet {name!r} has no hotkey {hotkey!r} in {keyfile_path.parent}: create it with "
            f"`subnetkit wallet create --name {name} --hotkey {hotkey}`"
        )
    keyfile = Keyfile(path=str(keyfile_path))
    what = f"hotkey {hotkey!r} of wallet {name!r}"
    return Signer(_decrypt(keyfile, password, what))


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
    wallet_dir = _wallet_dir(resolve_path(path), name)
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
    return Signer(_decrypt(keyfile, password, f"the coldkey of wallet {name!r}"))


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


def _decrypt(keyfile: Keyfile, password: str | None, what: str) -> Keypair:
    try:
        with _quiet():
            if keyfile.is_encrypted():
                if password is None:
                    raise WalletError(f"{what} is encrypted: give its password")
                return keyfile.get_keypair(password=password)
            return keyfile.keypair
    except WalletError:
        raise
    except Exception as exc:
        text = str(exc)
        if "password" in text.lower():
            raise WalletError(f"wrong password for {what}: try again") from None
        raise WalletError(f"cannot read {what} from {keyfile.path}: {text}") from None


# ----------------------------------------------------------------------------- writing


def create_wallet(
    name: str,
    hotkey: str = "default",
    *,
    path: Path | str = DEFAULT_WALLET_PATH,
    crypto: str = "sr25519",
    uri: str | None = None,
    hotkey_uri: str | None = None,
    password: str | None = None,
    overwrite: bool = False,
    n_words: int = 12,
    on_mnemonic: MnemonicSink | None = None,
) -> WalletInfo:
    """Create wallet ``name`` with hotkey ``hotkey``, or add the hotkey to an existing wallet.

    Keys come from fresh mnemonics, or from secret URIs (``//Alice``, ``alice``) for dev keys;
    as in btcli, ``uri`` alone sets both keys. An existing coldkey is kept (adding a hotkey
    needs no password) unless ``overwrite``; an existing hotkey is an error unless
    ``overwrite`` or it already is the key asked for (so dev-wallet setup is idempotent).
    ``password=None`` leaves the coldkey unencrypted: only for throwaway dev wallets.
    Fresh mnemonics are handed to ``on_mnemonic`` and otherwise dropped: they are not stored
    anywhere but inside the keyfiles.
    """
    _check_name(name, "wallet name")
    _check_name(hotkey, "hotkey name")
    crypto_id(crypto)  # reject an unknown key type before touching disk
    if password == "":
        raise WalletError("an empty coldkey password is not allowed: use a real one or none")
    if hotkey_uri is None:
        hotkey_uri = uri
    root = resolve_path(path)
    wallet_dir = root / name
    hot_pub = wallet_dir / "hotkeys" / f"{hotkey}{_PUB_SUFFIX}"
    hot_file = wallet_dir / "hotkeys" / hotkey

    cold_pair: Keypair | None = _keypair_from_uri(uri, crypto) if uri else None
    hot_pair: Keypair | None = _keypair_from_uri(hotkey_uri, crypto) if hotkey_uri else None

    existing_cold = _read_public(wallet_dir / "coldkeypub.txt")
    has_cold = existing_cold is not None or (wallet_dir / "coldkey").exists()
    write_cold = overwrite or not has_cold
    same_cold = (
        existing_cold is not None
        and cold_pair is not None
        and (existing_cold.ss58_address == cold_pair.ss58_address)
    )
    if has_cold and not overwrite and cold_pair is not None and not same_cold:
        raise WalletError(
            f"wallet {name!r} already has a different coldkey in {wallet_dir}: "
            "pass --overwrite to replace it (its funds stay with the old key) or pick "
            "another --name"
        )

    has_hot = hot_file.exists() or hot_pub.exists()
    write_hot = overwrite or not has_hot
    if has_hot and not overwrite:
        existing_hot = _read_public(hot_pub) or _read_public(hot_file)
        same = (
            hot_pair is not None
            and existing_hot is not None
            and existing_hot.ss58_address == hot_pair.ss58_address
        )
        if not same:
            raise WalletError(
                f"wallet {name!r} already has a hotkey {hotkey!r} in {hot_file.parent}: "
                "pass --overwrite to replace it or choose another --hotkey"
            )

    wallet = _wallet(root, name, hotkey)
    wallet_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with _quiet():
            if write_cold:
                if cold_pair is None:
                    cold_pair, cold_words = _fresh_keypair(crypto, n_words)
                    if on_mnemonic is not None:
                        on_mnemonic("coldkey", cold_words)
                wallet.set_coldkey(
                    cold_pair,
                    encrypt=password is not None,
                    overwrite=True,
                    coldkey_password=password,
                )
                wallet.set_coldkeypub(cold_pair, overwrite=True)
            if write_hot:
                if hot_pair is None:
                    hot_pair, hot_words = _fresh_keypair(crypto, n_words)
                    if on_mnemonic is not None:
                        on_mnemonic(f"hotkey {hotkey}", hot_words)
                wallet.set_hotkey(hot_pair, encrypt=False, overwrite=True)
                wallet.set_hotkeypub(hot_pair, overwrite=True)
    except WalletError:
        raise
    except Exception as exc:
        raise WalletError(f"cannot write wallet {name!r} in {wallet_dir}: {exc}") from None
    info = wallet_info(name, path=root)
    log.info(
        "wallet %s at %s: coldkey %s%s, hotkey %s %s%s",
        name,
        wallet_dir,
        info.coldkey_ss58,
        "" if write_cold else " (kept)",
        hotkey,
        info.hotkeys.get(hotkey),
        "" if write_hot else " (kept)",
    )
    return info


__all__ = [
    "BITTENSOR_WALLET_PATH",
    "DEFAULT_WALLET_PATH",
    "MnemonicSink",
    "WalletInfo",
    "coldkeypub",
    "create_wallet",
    "list_wallets",
    "load_coldkey",
    "load_hotkey",
    "resolve_password",
    "resolve_path",
    "wallet_info",
]

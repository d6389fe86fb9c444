"""btcli's keyfiles through ``bittensor-wallet``, without its prints and without leaking secrets.

The primitives :mod:`subnetkit.core.wallet` is built from: plain names (they become path
components), public keys read without decrypting, decryption with one-line errors, keypairs from
dev URIs or fresh mnemonics, and :func:`quiet`, which drops bittensor-wallet's
"Encrypting..."/"Decrypting..." prints so they never corrupt ``--format json`` output.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bittensor_wallet import Keyfile, Keypair

from subnetkit.core.errors import WalletError
from subnetkit.core.keys import DEV_ACCOUNTS, Signer, crypto_id

log = logging.getLogger(__name__)

_CRYPTO_NAMES = {0: "ed25519", 1: "sr25519"}
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
#: btcli's suffix of a hotkey's public file: ``hotkeys/<H>pub.txt``
PUB_SUFFIX = "pub.txt"


def check_name(value: str, what: str) -> str:
    """Wallet and hotkey names become path components, so they must be plain names."""
    if not NAME_RE.match(value or ""):
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
def quiet() -> Iterator[None]:
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


def crypto_name(keypair: Keypair) -> str:
    return _CRYPTO_NAMES.get(keypair.crypto_type, str(keypair.crypto_type))


def normalize_uri(uri: str) -> str:
    """Accept btcli's short dev names (``alice``) as well as full URIs (``//Alice``)."""
    if not uri.startswith("/") and uri.capitalize() in DEV_ACCOUNTS:
        return f"//{uri.capitalize()}"
    return uri


def keypair_from_uri(uri: str, crypto: str) -> Keypair:
    # Signer.from_uri turns a bad URI into a WalletError without echoing the (secret) URI.
    return Signer.from_uri(normalize_uri(uri), crypto).keypair


def fresh_keypair(crypto: str, n_words: int) -> tuple[Keypair, str]:
    mnemonic = Keypair.generate_mnemonic(n_words)
    return Keypair.create_from_mnemonic(mnemonic, crypto_type=crypto_id(crypto)), mnemonic


def read_public(path: Path) -> Keypair | None:
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


def decrypt(keyfile: Keyfile, password: str | None, what: str) -> Keypair:
    try:
        with quiet():
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

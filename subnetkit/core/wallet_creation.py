"""Writing wallets: create one, or add a hotkey to one, in btcli's exact files.

We write keyfiles through bittensor-wallet's ``Wallet.set_*`` methods (its format, its
encryption: NaCl secretbox with an argon2i key) but generate keys and decide about existing
files ourselves, so nothing here ever prompts or prints on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bittensor_wallet import Keypair, Wallet

from subnetkit.core.errors import WalletError
from subnetkit.core.keyfiles import (
    PUB_SUFFIX,
    check_name,
    fresh_keypair,
    keypair_from_uri,
    quiet,
    read_public,
)
from subnetkit.core.keys import crypto_id
from subnetkit.core.wallet_loading import DEFAULT_WALLET_PATH, WalletInfo, resolve_path, wallet_info

log = logging.getLogger(__name__)

#: Called with (which key, mnemonic) for every freshly generated key: "coldkey" or "hotkey <H>".
MnemonicSink = Callable[[str, str], None]


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
    check_name(name, "wallet name")
    check_name(hotkey, "hotkey name")
    crypto_id(crypto)  # reject an unknown key type before touching disk
    if password == "":
        raise WalletError("an empty coldkey password is not allowed: use a real one or none")
    if hotkey_uri is None:
        hotkey_uri = uri
    root = resolve_path(path)
    wallet_dir = root / name
    hot_pub = wallet_dir / "hotkeys" / f"{hotkey}{PUB_SUFFIX}"
    hot_file = wallet_dir / "hotkeys" / hotkey

    cold_pair: Keypair | None = keypair_from_uri(uri, crypto) if uri else None
    hot_pair: Keypair | None = keypair_from_uri(hotkey_uri, crypto) if hotkey_uri else None

    existing_cold = read_public(wallet_dir / "coldkeypub.txt")
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
        existing_hot = read_public(hot_pub) or read_public(hot_file)
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

    wallet = Wallet(name=name, hotkey=hotkey, path=str(root))
    wallet_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with quiet():
            if write_cold:
                if cold_pair is None:
                    cold_pair, cold_words = fresh_keypair(crypto, n_words)
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
                    hot_pair, hot_words = fresh_keypair(crypto, n_words)
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


def regenerate_key(
    name: str,
    mnemonic: str,
    *,
    hotkey: str | None = None,
    path: Path | str = DEFAULT_WALLET_PATH,
    crypto: str = "sr25519",
    password: str | None = None,
    overwrite: bool = False,
) -> WalletInfo:
    """Write the coldkey (``hotkey=None``) or hotkey ``hotkey`` of wallet ``name`` from its
    mnemonic (or any secret URI), as btcli's ``regen_coldkey`` / ``regen_hotkey`` do.

    The other keys of the wallet are left alone. An existing, different key is an error unless
    ``overwrite``; the same key again is a no-op rewrite. The mnemonic is never logged or put
    in an error message.
    """
    check_name(name, "wallet name")
    if hotkey is not None:
        check_name(hotkey, "hotkey name")
    if password == "":
        raise WalletError("an empty coldkey password is not allowed: use a real one or none")
    pair = keypair_from_uri(" ".join(mnemonic.split()), crypto)
    root = resolve_path(path)
    wallet_dir = root / name
    if hotkey is None:
        what, pub = "coldkey", wallet_dir / "coldkeypub.txt"
    else:
        what, pub = f"hotkey {hotkey!r}", wallet_dir / "hotkeys" / f"{hotkey}{PUB_SUFFIX}"
    existing = read_public(pub)
    if existing is not None and existing.ss58_address != pair.ss58_address and not overwrite:
        raise WalletError(
            f"wallet {name!r} already has a different {what} ({existing.ss58_address}): pass "
            "--overwrite to replace it (its funds and registrations stay with the old key)"
        )
    wallet = Wallet(name=name, hotkey=hotkey or "default", path=str(root))
    wallet_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with quiet():
            if hotkey is None:
                wallet.set_coldkey(
                    pair, encrypt=password is not None, overwrite=True, coldkey_password=password
                )
                wallet.set_coldkeypub(pair, overwrite=True)
            else:
                wallet.set_hotkey(pair, encrypt=False, overwrite=True)
                wallet.set_hotkeypub(pair, overwrite=True)
    except Exception as exc:
        raise WalletError(f"cannot write the {what} of wallet {name!r}: {exc}") from None
    log.info("wallet %s: %s %s regenerated from its mnemonic", name, what, pair.ss58_address)
    return wallet_info(name, path=root)

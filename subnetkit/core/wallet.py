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

from subnetkit.core.wallet_creation import MnemonicSink, create_wallet, regenerate_key
from subnetkit.core.wallet_loading import (
    BITTENSOR_WALLET_PATH,
    DEFAULT_WALLET_PATH,
    WalletInfo,
    coldkeypub,
    list_wallets,
    load_coldkey,
    load_hotkey,
    resolve_password,
    resolve_path,
    wallet_info,
)

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
    "regenerate_key",
    "resolve_password",
    "resolve_path",
    "wallet_info",
]

"""Keys: signing and verification over bittensor-wallet's sr25519/ed25519 keypairs.

Everything in subnetkit that signs (requests, responses, extrinsics) goes through
:class:`Signer`, and everything that verifies goes through :func:`verify`, so the key type and
the SS58 handling live in one place. Verification keypairs are cached per address: building
one from an SS58 string costs more than the verification itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from bittensor_wallet import Keypair

from subnetkit.core.errors import WalletError

CryptoType = Literal["sr25519", "ed25519"]
_CRYPTO_NAMES: dict[int, CryptoType] = {0: "ed25519", 1: "sr25519"}
_CRYPTO_IDS: dict[str, int] = {name: crypto for crypto, name in _CRYPTO_NAMES.items()}

#: The well-known development accounts (``//Alice`` ...), funded by ``chain start --dev``.
DEV_ACCOUNTS = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")


def crypto_id(crypto: str) -> int:
    try:
        return _CRYPTO_IDS[crypto]
    except KeyError:
        raise WalletError(f"unknown key type {crypto!r}: use 'sr25519' or 'ed25519'") from None


class Signer:
    """A keypair that can sign, with its public identity at hand.

    Secrets never leave this object: ``repr`` shows only the address and key type.
    """

    __slots__ = ("_keypair", "crypto", "public_key", "ss58")

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair
        self.ss58: str = keypair.ss58_address
        if keypair.public_key is None:  # only a keypair built from a bare address lacks one
            raise WalletError(f"{keypair.ss58_address} has no public key to verify with")
        self.public_key: bytes = bytes(keypair.public_key)
        self.crypto: CryptoType = _CRYPTO_NAMES[keypair.crypto_type]

    @classmethod
    def from_uri(cls, uri: str, crypto: str = "sr25519") -> Signer:
        """A keypair from a secret URI such as ``//Alice`` (dev keys, tests)."""
        try:
            return cls(Keypair.create_from_uri(uri, crypto_type=crypto_id(crypto)))
        except WalletError:
            raise
        except Exception as exc:
            raise WalletError(f"cannot derive a key from the URI given: {exc}") from None

    @classmethod
    def from_seed(cls, seed: bytes, crypto: str = "sr25519") -> Signer:
        # bittensor-wallet's stub says bytes, but the binding takes the seed as a hex string
        # (bytes raise "cannot be converted to 'PyString'").
        keypair = Keypair.create_from_seed(seed.hex(), crypto_type=crypto_id(crypto))  # type: ignore[arg-type]
        return cls(keypair)

    @classmethod
    def generate(cls, crypto: str = "sr25519") -> Signer:
        """A fresh random keypair (for tests and load harnesses; wallets use mnemonics)."""
        import os

        return cls.from_seed(os.urandom(32), crypto)

    @property
    def keypair(self) -> Keypair:
        return self._keypair

    def sign(self, message: bytes) -> bytes:
        return bytes(self._keypair.sign(message))

    def __repr__(self) -> str:
        return f"Signer({self.ss58}, {self.crypto})"


@lru_cache(maxsize=65536)
def _verifier(ss58: str, crypto: str) -> Keypair:
    return Keypair(ss58_address=ss58, crypto_type=crypto_id(crypto))


def verify(ss58: str, message: bytes, signature: bytes, crypto: str = "sr25519") -> bool:
    """True if ``signature`` is ``ss58``'s signature over ``message``; never raises on bad input."""
    if len(signature) != 64:
        return False
    try:
        return bool(_verifier(ss58, crypto).verify(message, signature))
    except Exception:
        return False


def is_valid_ss58(address: str) -> bool:
    """True if ``address`` decodes as an SS58 public key."""
    try:
        _verifier(address, "sr25519")
    except Exception:
        return False
    return True


def dev_signer(name: str, crypto: str = "sr25519") -> Signer:
    """The dev account ``//Name`` (case-insensitive name from :data:`DEV_ACCOUNTS`)."""
    wanted = name.strip("/").capitalize()
    if wanted not in DEV_ACCOUNTS:
        raise WalletError(f"unknown dev account {name!r}: use one of {', '.join(DEV_ACCOUNTS)}")
    return Signer.from_uri(f"//{wanted}", crypto)

"""SS58 addresses: one public key has many spellings; subnetkit uses exactly one of them.

An SS58 address is ``base58(prefix || public key || checksum)``: the same 32-byte key written
with network prefix 0 (Polkadot), 2 (Kusama) or 42 (generic Substrate, Bittensor) is three
different strings. Anything keyed by the address *text* (a deny list, a quota, a replay cache, a
metric label) would see three callers. So the wire accepts only the canonical spelling, prefix
42, which is what every subnetkit key prints (``Signer.ss58``); :func:`canonical_ss58` says what
that spelling is for an address given in any other prefix, so an error can name it.

Layout (the Substrate SS58 address format):
one prefix byte for prefixes 0-63, two bytes for 64-16383; the checksum is the first two bytes
of BLAKE2b-512 over ``b"SS58PRE" || prefix bytes || public key``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

#: The prefix of every address subnetkit produces and accepts on the wire.
CANONICAL_PREFIX = 42

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_KEY_LEN = 32
_CHECKSUM_LEN = 2


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def _b58decode(text: str) -> bytes | None:
    number = 0
    for char in text:
        digit = _INDEX.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def _prefix_bytes(prefix: int) -> bytes:
    if prefix < 64:
        return bytes([prefix])
    # Two-byte form: the 14-bit prefix spread over both bytes, first byte tagged with 0b01.
    first = ((prefix & 0b1111_1100) >> 2) | 0b0100_0000
    second = (prefix >> 8) | ((prefix & 0b11) << 6)
    return bytes([first, second])


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(b"SS58PRE" + payload, digest_size=64).digest()[:_CHECKSUM_LEN]


def encode(public_key: bytes, prefix: int = CANONICAL_PREFIX) -> str:
    """``public_key`` (32 bytes) as an SS58 address with network ``prefix`` (0-16383)."""
    if len(public_key) != _KEY_LEN:
        raise ValueError(f"an SS58 account key is {_KEY_LEN} bytes, got {len(public_key)}")
    if not 0 <= prefix < 16384 or prefix in (46, 47):  # 46/47 are reserved by the format
        raise ValueError(f"SS58 prefix {prefix} is not allowed")
    payload = _prefix_bytes(prefix) + public_key
    return _b58encode(payload + _checksum(payload))


@lru_cache(maxsize=65536)
def decode(address: str) -> tuple[int, bytes] | None:
    """``(prefix, public key)`` of an SS58 account address, or None if it is not one.

    Cached: the wire decodes the caller of every request, and callers repeat.
    """
    if not 40 <= len(address) <= 52:
        return None
    raw = _b58decode(address)
    if raw is None or len(raw) < 1 + _KEY_LEN + _CHECKSUM_LEN:
        return None
    if raw[0] < 64:
        prefix, head = raw[0], 1
    elif raw[0] < 128:
        if len(raw) < 2:
            return None
        lower = ((raw[0] & 0b0011_1111) << 2) | (raw[1] >> 6)
        prefix, head = lower | ((raw[1] & 0b0011_1111) << 8), 2
    else:
        return None
    if len(raw) != head + _KEY_LEN + _CHECKSUM_LEN:
        return None
    payload, checksum = raw[:-_CHECKSUM_LEN], raw[-_CHECKSUM_LEN:]
    if _checksum(payload) != checksum:
        return None
    return prefix, payload[head:]


def public_key(address: str) -> bytes | None:
    """The 32-byte public key an address spells, whatever its prefix; None if not an address."""
    decoded = decode(address)
    return None if decoded is None else decoded[1]


def canonical_ss58(address: str) -> str | None:
    """The canonical (prefix 42) spelling of ``address``'s key, or None if it is not one."""
    key = public_key(address)
    return None if key is None else encode(key)


@lru_cache(maxsize=65536)
def is_canonical(address: str) -> bool:
    """True if ``address`` is a valid SS58 address already in the canonical spelling.

    Cached too: the wire checks the caller of every request, refused ones included, and a
    cache hit costs no Python frame."""
    decoded = decode(address)
    return decoded is not None and decoded[0] == CANONICAL_PREFIX

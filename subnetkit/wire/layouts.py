"""The byte layouts that requests, responses and streams sign: the protocol's single definition.

``docs/protocol.md`` describes the same layouts in prose and pins them with golden vectors
(``tests/wire/test_golden.py`` recomputes them). Every variable-length field is length-prefixed
and every message starts with a domain tag, so no two different field tuples can produce the
same signed bytes and a request signature can never pass as a response one. Pure and cheap:
one hash per message, and the repeated fields are cached.
"""

from __future__ import annotations

import hashlib
import struct
from functools import lru_cache

from subnetkit.core.errors import WireError

REQUEST_DOMAIN = b"subnetkit/v1/request\x00"
RESPONSE_DOMAIN = b"subnetkit/v1/response\x00"
STREAM_DOMAIN = b"subnetkit/v1/stream\x00"
TLS_BINDING_DOMAIN = b"subnetkit/v1/tls\x00"

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


def sha256(data: bytes) -> bytes:
    """The 32-byte SHA-256 digest: ``H`` in docs/protocol.md. Bodies are signed through it so a
    signature covers any body size at a fixed cost."""
    return hashlib.sha256(data).digest()


@lru_cache(maxsize=65536)
def _lp(text: str) -> bytes:
    """A UTF-8 string prefixed by its byte length (u16, big-endian).

    Cached: the fields are hotkeys, method paths and versions, repeated on every message, and a
    validator fanning out to thousands of miners builds each layout twice per request."""
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise WireError(f"field too long to sign ({len(raw)} bytes, the limit is 65535)")
    return _U16.pack(len(raw)) + raw


def request_message(
    *,
    version: str,
    method: str,
    receiver: str,
    body_hash: bytes,
    nonce: int,
    caller_crypto: str,
    caller: str,
) -> bytes:
    """The bytes a caller signs for one request (layout in docs/protocol.md, "Request")."""
    return b"".join(
        (
            REQUEST_DOMAIN,
            _lp(version),
            _lp(method),
            _lp(receiver),
            body_hash,
            _U64.pack(nonce),
            _lp(caller_crypto),
            _lp(caller),
        )
    )


def response_message(
    *,
    version: str,
    method: str,
    caller: str,
    request_hash: bytes,
    nonce: int,
    response_hash: bytes,
    miner_crypto: str,
    miner: str,
) -> bytes:
    """The bytes a miner signs for one unary response (docs/protocol.md, "Response")."""
    return b"".join(
        (
            RESPONSE_DOMAIN,
            _lp(version),
            _lp(method),
            _lp(caller),
            request_hash,
            _U64.pack(nonce),
            response_hash,
            _lp(miner_crypto),
            _lp(miner),
        )
    )


def stream_message(
    *,
    version: str,
    method: str,
    caller: str,
    request_hash: bytes,
    nonce: int,
    chunks: int,
    chain_hash: bytes,
    miner_crypto: str,
    miner: str,
) -> bytes:
    """The bytes a miner signs in a stream's trailing metadata (docs/protocol.md, "Stream")."""
    return b"".join(
        (
            STREAM_DOMAIN,
            _lp(version),
            _lp(method),
            _lp(caller),
            request_hash,
            _U64.pack(nonce),
            _U32.pack(chunks),
            chain_hash,
            _lp(miner_crypto),
            _lp(miner),
        )
    )


def lp(text: str) -> bytes:
    """``str(text)`` in docs/protocol.md: for layouts built outside this module (the TLS
    certificate's binding extension carries ``str(crypto) || str(hotkey) || signature``)."""
    return _lp(text)


def tls_binding_message(*, hotkey: str, crypto: str, spki_hash: bytes) -> bytes:
    """The bytes a hotkey signs to vouch for a TLS certificate's key (docs/protocol.md, "TLS").

    ``spki_hash`` is ``H`` of the certificate's SubjectPublicKeyInfo (DER): the key, not the
    certificate, is what is bound, so a renewed certificate for the same key stays bound.
    """
    return b"".join((TLS_BINDING_DOMAIN, _lp(crypto), _lp(hotkey), spki_hash))


class ChunkChain:
    """Hash chain over a stream: ``h0 = request_hash``, ``hi = sha256(h(i-1) || sha256(ci))``.

    Both ends fold every chunk in as it passes, so the trailer's one signature covers the order
    and content of all chunks without buffering them.
    """

    __slots__ = ("count", "digest")

    def __init__(self, request_hash: bytes) -> None:
        self.digest = request_hash
        self.count = 0

    def add(self, chunk: bytes) -> None:
        """Fold the next chunk's exact bytes in (order matters: it is a chain)."""
        self.digest = hashlib.sha256(self.digest + hashlib.sha256(chunk).digest()).digest()
        self.count += 1

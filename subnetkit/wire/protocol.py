"""The subnetkit wire protocol, version 1: what is signed, where it travels, how it is checked.

The signed byte layouts live in :mod:`subnetkit.wire.layouts` (re-exported here);
``docs/protocol.md`` describes the same layouts in prose and pins them with golden vectors
(``tests/wire/test_golden.py`` recomputes them). Everything here is pure and synchronous: the
miner server and the validator client call it on their hot paths, so it does one hash and one
signature operation per message and allocates little.

Why a custom layout instead of signing a proto: signing must cover the exact bytes on the wire
(the body is hashed *before* it is parsed) and must be unambiguous. Every variable-length field
is length-prefixed and every message starts with a domain tag, so no two different field tuples
can produce the same signed bytes and a request signature can never pass as a response one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import grpc

from subnetkit.core.errors import WireError
from subnetkit.core.keys import Signer, verify
from subnetkit.wire.layouts import (
    ChunkChain,
    lp,
    request_message,
    response_message,
    sha256,
    stream_message,
    tls_binding_message,
)
from subnetkit.wire.nonces import NonceClock, lane_clock, next_nonce

#: The protocol version every request carries; a miner rejects any other.
PROTOCOL_VERSION = "1"

# Metadata keys. gRPC metadata keys are lower-case ASCII; the ``-bin`` suffix marks binary values.
MD_VERSION = "sk-version"
MD_CALLER = "sk-caller"
MD_CALLER_CRYPTO = "sk-caller-crypto"
MD_RECEIVER = "sk-receiver"
MD_NONCE = "sk-nonce"
MD_SIGNATURE = "sk-signature-bin"
MD_MINER = "sk-miner"
MD_MINER_CRYPTO = "sk-miner-crypto"
MD_RESPONSE_SIGNATURE = "sk-response-signature-bin"
MD_SESSION = "sk-session"
MD_CHUNKS = "sk-chunks"

CRYPTO_TYPES = ("sr25519", "ed25519")
#: The key type implied when ``sk-caller-crypto`` / ``sk-miner-crypto`` is absent.
DEFAULT_CRYPTO = "sr25519"
SIGNATURE_LEN = 64
MAX_NONCE = 2**64 - 1


class RequestAuth(NamedTuple):
    """The authentication fields of one request, as read from its metadata (a named tuple:
    immutable, and built in a third of a frozen dataclass's time, on every refused request)."""

    version: str
    caller: str
    caller_crypto: str
    receiver: str
    nonce: int
    signature: bytes


def unauthenticated(message: str) -> WireError:
    """The error a request with bad auth metadata is refused with (status UNAUTHENTICATED)."""
    return WireError(message, status=grpc.StatusCode.UNAUTHENTICATED, code="unauthenticated")


def version_problem(version: str | bytes | None) -> str:
    """Why a request of protocol ``version`` (not ours) is refused."""
    return (
        f"protocol version {version!r} is not supported; this miner speaks "
        f"{PROTOCOL_VERSION!r}: upgrade the caller"
    )


def parse_session_metadata(
    metadata: Iterable[tuple[str, str | bytes]] | Mapping[str, str | bytes],
    caller: str,
    *,
    stream: bool = False,
) -> RequestAuth:
    """The auth fields of a session-mode request, whose caller the TLS handshake proved.

    Only the version, receiver and nonce travel; the nonce binds the signed response to this
    request. The returned ``signature`` is empty: nothing is verified per request. A session
    stream's opening (``stream=True``) has no nonce (each of its messages brings one): the
    returned nonce is 0.
    """
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    version = receiver = nonce_text = None
    for key, value in items:  # one pass, no dict (as parse_request_metadata; last value wins)
        if key == MD_NONCE:
            nonce_text = value
        elif key == MD_RECEIVER:
            receiver = value
        elif key == MD_VERSION:
            version = value
    if version != PROTOCOL_VERSION:
        raise unauthenticated(version_problem(version))
    if not isinstance(receiver, str):
        raise unauthenticated(f"{MD_RECEIVER} must be the miner's SS58 hotkey")
    if stream and nonce_text is None:
        return RequestAuth(PROTOCOL_VERSION, caller, DEFAULT_CRYPTO, receiver, 0, b"")
    if not isinstance(nonce_text, str) or not nonce_text.isdigit() or len(nonce_text) > 20:
        raise unauthenticated(f"{MD_NONCE} must be a decimal number (it binds the response)")
    nonce = int(nonce_text)
    if nonce > MAX_NONCE:
        raise unauthenticated(f"{MD_NONCE} does not fit in 64 bits")
    return RequestAuth(PROTOCOL_VERSION, caller, DEFAULT_CRYPTO, receiver, nonce, b"")


def asks_session(metadata: Iterable[tuple[str, str | bytes]]) -> bool:
    """True if the request carries ``sk-session`` (session mode: unsigned, over mutual TLS).
    A plain loop: any() over a generator costs a frame per item, on every request."""
    for key, _ in metadata:  # noqa: SIM110
        if key == MD_SESSION:
            return True
    return False


def check_receiver(receiver: str, own_hotkey: str) -> None:
    """Reject a request addressed to another hotkey (:func:`receiver_problem`)."""
    if receiver != own_hotkey:
        raise unauthenticated(receiver_problem(receiver, own_hotkey))


def receiver_problem(receiver: str, own_hotkey: str) -> str:
    """Why a request addressed to another hotkey is refused: one signed for miner A must not
    be replayed against miner B (the receiver is inside the signed bytes as well)."""
    return (
        f"request addressed to {receiver}, but this miner is {own_hotkey}: "
        "refresh the metagraph and query the hotkey that serves this endpoint"
    )


def verify_request(auth: RequestAuth, method: str, body_hash: bytes) -> None:
    """Check the caller's signature over the request layout; raise UNAUTHENTICATED if it fails."""
    message = request_message(
        version=auth.version,
        method=method,
        receiver=auth.receiver,
        body_hash=body_hash,
        nonce=auth.nonce,
        caller_crypto=auth.caller_crypto,
        caller=auth.caller,
    )
    if not verify(auth.caller, message, auth.signature, auth.caller_crypto):
        raise unauthenticated(
            f"bad signature: not {auth.caller}'s {auth.caller_crypto} signature over this "
            "request (method, receiver, body hash, nonce); sign with the caller's hotkey"
        )


def sign_request(
    signer: Signer, *, method: str, receiver: str, body_hash: bytes, nonce: int
) -> tuple[tuple[str, str | bytes], ...]:
    """The metadata for one request to ``receiver``; the body is bound through ``body_hash``."""
    message = request_message(
        version=PROTOCOL_VERSION,
        method=method,
        receiver=receiver,
        body_hash=body_hash,
        nonce=nonce,
        caller_crypto=signer.crypto,
        caller=signer.ss58,
    )
    metadata: tuple[tuple[str, str | bytes], ...] = (
        (MD_VERSION, PROTOCOL_VERSION),
        (MD_CALLER, signer.ss58),
        (MD_RECEIVER, receiver),
        (MD_NONCE, str(nonce)),
        (MD_SIGNATURE, signer.sign(message)),
    )
    if signer.crypto != DEFAULT_CRYPTO:  # the default key type is implied: one header less
        metadata += ((MD_CALLER_CRYPTO, signer.crypto),)
    return metadata


#: The signature field of a trusted in-process request: zeros, never checked (see
#: ``subnetkit.wire.inprocess``); a miner off the network rejects it as a bad signature.
UNSIGNED = bytes(SIGNATURE_LEN)


def unsigned_request(
    signer: Signer, *, receiver: str, nonce: int
) -> tuple[tuple[str, str | bytes], ...]:
    """Request metadata without a signature, for a trusted in-process transport only: the
    caller, receiver and nonce still travel, so freshness, replay and limits still apply."""
    return (
        (MD_VERSION, PROTOCOL_VERSION),
        (MD_CALLER, signer.ss58),
        (MD_RECEIVER, receiver),
        (MD_NONCE, str(nonce)),
        (MD_SIGNATURE, UNSIGNED),
    )


def session_request(*, receiver: str, nonce: int) -> tuple[tuple[str, str | bytes], ...]:
    """The metadata for one request in session mode (mutual TLS: the handshake proved the
    caller's hotkey, so nothing is signed). The nonce only binds the signed response to this
    request; TLS itself rules out replay on the connection."""
    return (
        (MD_VERSION, PROTOCOL_VERSION),
        (MD_SESSION, "1"),
        (MD_RECEIVER, receiver),
        (MD_NONCE, str(nonce)),
    )


def session_open(*, receiver: str) -> tuple[tuple[str, str | bytes], ...]:
    """The metadata that opens a session stream to ``receiver`` (mutual TLS; its messages
    carry their own nonces: subnetkit.protos.session.v1)."""
    return ((MD_VERSION, PROTOCOL_VERSION), (MD_SESSION, "1"), (MD_RECEIVER, receiver))


def response_trailer(
    signer: Signer, message: bytes, chunks: int | None = None
) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata that carries the miner's signature over ``message``."""
    trailer: tuple[tuple[str, str | bytes], ...] = (
        (MD_MINER, signer.ss58),
        (MD_RESPONSE_SIGNATURE, signer.sign(message)),
    )
    if signer.crypto != DEFAULT_CRYPTO:
        trailer += ((MD_MINER_CRYPTO, signer.crypto),)
    if chunks is not None:
        trailer += ((MD_CHUNKS, str(chunks)),)
    return trailer


def check_response_trailer(
    trailer: dict[str, str | bytes], *, miner: str, crypto: str, message: bytes
) -> str | None:
    """``None`` if ``trailer`` holds ``miner``'s valid signature over ``message``, else why not.

    The caller builds ``message`` from what *it* sent and what it received, so a response that
    was altered, replayed from another request, or signed by another key fails here.
    """
    signature = trailer.get(MD_RESPONSE_SIGNATURE)
    if signature is None:
        return "response is not signed (no sk-response-signature-bin trailer)"
    signed_by = trailer.get(MD_MINER)
    if signed_by != miner:
        return f"response signed as {signed_by!r}, expected the target's hotkey {miner}"
    signed_crypto = trailer.get(MD_MINER_CRYPTO, DEFAULT_CRYPTO)
    if signed_crypto != crypto:
        return f"response signed with {signed_crypto!r} but the target's key type is {crypto!r}"
    if not isinstance(signature, bytes) or not verify(miner, message, signature, crypto):
        return f"forged response: signature does not verify for {miner}"
    return None


def metadata_dict(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str | bytes]:
    """Our ``sk-`` keys from a metadata sequence (last value wins)."""
    if metadata is None:
        return {}
    return {k: v for k, v in metadata if k.startswith("sk-")}


__all__ = [
    "CRYPTO_TYPES",
    "MAX_NONCE",
    "MD_CALLER",
    "MD_CALLER_CRYPTO",
    "MD_CHUNKS",
    "MD_MINER",
    "MD_MINER_CRYPTO",
    "MD_NONCE",
    "MD_RECEIVER",
    "MD_RESPONSE_SIGNATURE",
    "MD_SESSION",
    "MD_SIGNATURE",
    "MD_VERSION",
    "PROTOCOL_VERSION",
    "SIGNATURE_LEN",
    "UNSIGNED",
    "ChunkChain",
    "NonceClock",
    "RequestAuth",
    "asks_session",
    "check_receiver",
    "check_response_trailer",
    "lane_clock",
    "lp",
    "metadata_dict",
    "next_nonce",
    "parse_session_metadata",
    "receiver_problem",
    "request_message",
    "response_message",
    "response_trailer",
    "session_open",
    "session_request",
    "sha256",
    "sign_request",
    "stream_message",
    "tls_binding_message",
    "unauthenticated",
    "unsigned_request",
    "verify_request",
    "version_problem",
]

"""Reading a request's auth metadata on a miner: the fields, or why the request is refused.

The miner's first steps (:mod:`subnetkit.miner.pipeline`, steps 1-2) refuse most junk here, at
a rate an attacker picks, so :func:`read_request_metadata` returns the refusal's message rather
than raising it: an exception's object, traceback and unwinding were a measurable share of what
such a refusal costs (``bench/wire.py``). :func:`parse_request_metadata` is the raising form.
The messages say what is wrong and what to do about it; they are the status details a caller
gets. The field layout is :mod:`subnetkit.wire.protocol`'s (docs/protocol.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from subnetkit.core import ss58
from subnetkit.wire.protocol import (
    CRYPTO_TYPES,
    DEFAULT_CRYPTO,
    MAX_NONCE,
    MD_CALLER,
    MD_CALLER_CRYPTO,
    MD_NONCE,
    MD_RECEIVER,
    MD_SESSION,
    MD_SIGNATURE,
    MD_VERSION,
    PROTOCOL_VERSION,
    SIGNATURE_LEN,
    RequestAuth,
    unauthenticated,
    version_problem,
)


def parse_request_metadata(
    metadata: Iterable[tuple[str, str | bytes]],
    now_ns: int | None = None,
    max_age_s: float = 0.0,
    max_skew_s: float = 0.0,
) -> RequestAuth:
    """Read and shape-check the auth metadata; raise UNAUTHENTICATED naming what is wrong
    (:func:`read_request_metadata`, raising)."""
    auth = read_request_metadata(metadata, now_ns, max_age_s, max_skew_s)
    if isinstance(auth, str):
        raise unauthenticated(auth)
    return auth


def read_request_metadata(
    metadata: Iterable[tuple[str, str | bytes]],
    now_ns: int | None = None,
    max_age_s: float = 0.0,
    max_skew_s: float = 0.0,
) -> RequestAuth | str:
    """The auth fields of a request, or why it is refused (UNAUTHENTICATED's message).

    The shape is checked here (presence, types, lengths, SS58 decoding), and with ``now_ns``
    the nonce's freshness too (:func:`freshness_problem`, in the same pass: a miner refuses most
    junk right here, so one call does both). The receiver and the signature are separate
    pipeline steps, so each can fail with its own message. It returns the problem rather than
    raising it: a miner refuses junk here at a rate an attacker picks, and an exception (its
    object, traceback and unwinding) is a measurable share of a refusal's cost (bench/wire.py).
    """
    # One pass over the few headers, no dict: gRPC hands them over as named tuples, which a
    # dict() builds from at half this loop's speed, and this runs for every refused request
    # too (the last value of a repeated key wins, as in metadata_dict).
    version = caller = receiver = nonce_text = signature = crypto = None
    session = False
    for key, value in metadata:
        if key == MD_NONCE:
            nonce_text = value
        elif key == MD_CALLER:
            caller = value
        elif key == MD_RECEIVER:
            receiver = value
        elif key == MD_SIGNATURE:
            signature = value
        elif key == MD_VERSION:
            version = value
        elif key == MD_CALLER_CRYPTO:
            crypto = value
        elif key == MD_SESSION:
            session = True
    if version is None or caller is None or receiver is None or nonce_text is None:
        return _missing((version, caller, receiver, nonce_text, signature), session)
    if signature is None:
        return _missing((version, caller, receiver, nonce_text, signature), session)
    if version != PROTOCOL_VERSION:
        return version_problem(version)
    if crypto is None:
        crypto = DEFAULT_CRYPTO
    if not isinstance(caller, str) or not ss58.is_canonical(caller):
        return _caller_problem(caller)
    if not isinstance(receiver, str):
        return f"{MD_RECEIVER} must be the miner's SS58 hotkey"
    if crypto not in CRYPTO_TYPES:
        return f"{MD_CALLER_CRYPTO} {crypto!r} unknown: use sr25519 or ed25519"
    if not isinstance(nonce_text, str) or not nonce_text.isdigit() or len(nonce_text) > 20:
        return f"{MD_NONCE} must be a decimal nanosecond timestamp"
    nonce = int(nonce_text)
    if nonce > MAX_NONCE:
        return f"{MD_NONCE} does not fit in 64 bits"
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_LEN:
        return f"{MD_SIGNATURE} must be {SIGNATURE_LEN} raw bytes"
    if now_ns is not None and not -max_skew_s * 1e9 <= now_ns - nonce <= max_age_s * 1e9:
        problem = freshness_problem(nonce, now_ns, max_age_s, max_skew_s)
        if problem is not None:
            return problem
    return RequestAuth(PROTOCOL_VERSION, caller, str(crypto), receiver, nonce, signature)


_REQUIRED = (MD_VERSION, MD_CALLER, MD_RECEIVER, MD_NONCE, MD_SIGNATURE)


def _missing(values: tuple[str | bytes | None, ...], session: bool) -> str:
    """Why a request without every auth field (``values``, in ``_REQUIRED`` order, None where
    absent) is refused; a session request where this miner offers no session says so."""
    if session:
        return (
            "session mode needs mutual TLS with a client certificate this miner trusts, and "
            "this miner does not offer it here: sign each request (docs/protocol.md)"
        )
    missing = ", ".join(k for k, v in zip(_REQUIRED, values, strict=True) if v is None)
    return (
        f"auth metadata missing: {missing}; sign requests with a subnetkit "
        "client (validator.client.MinerClient) or follow docs/protocol.md"
    )


def _caller_problem(caller: str | bytes) -> str:
    """Why ``caller`` is refused: not an address at all, or a non-canonical spelling of one.

    Identity is the public key, not its text: a key re-spelled with another SS58 prefix would
    otherwise pass every check keyed by the text (deny lists, quotas, the replay cache, metric
    labels) as a fresh caller. Refusing every other spelling keeps one string per key.
    """
    canonical = ss58.canonical_ss58(caller) if isinstance(caller, str) else None
    if canonical is None or not isinstance(caller, str):
        return f"{MD_CALLER} is not an SS58 address: send the caller's hotkey"
    return (
        f"{MD_CALLER} {caller} is not in canonical form (SS58 prefix {ss58.CANONICAL_PREFIX}): "
        f"send the same key as {canonical}"
    )


def check_freshness(nonce: int, now_ns: int, max_age_s: float, max_skew_s: float) -> None:
    """Reject a nonce older than ``max_age_s`` or more than ``max_skew_s`` in the future."""
    problem = freshness_problem(nonce, now_ns, max_age_s, max_skew_s)
    if problem is not None:
        raise unauthenticated(problem)


def freshness_problem(nonce: int, now_ns: int, max_age_s: float, max_skew_s: float) -> str | None:
    """Why a nonce is too old or too far in the future (which bound, by how much), or None."""
    age_ns = now_ns - nonce
    if age_ns > max_age_s * 1e9:
        return (
            f"stale request: nonce is {age_ns / 1e9:.3f} s old (max {max_age_s:g} s); "
            "sign each request just before sending and check the caller's clock"
        )
    if -age_ns > max_skew_s * 1e9:
        return (
            f"nonce is {-age_ns / 1e9:.3f} s in the future (max skew {max_skew_s:g} s): "
            "synchronise the caller's clock (NTP)"
        )
    return None


__all__ = [
    "check_freshness",
    "freshness_problem",
    "parse_request_metadata",
    "read_request_metadata",
]

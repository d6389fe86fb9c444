"""What a query returns: one :class:`QueryResult` per :class:`Target`, its failure a
:class:`QueryError` value with the gRPC status and a message saying what to fix.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import Message

from subnetkit.core.errors import SubnetkitError

_S = grpc.StatusCode

#: The response message type of a :class:`QueryResult` (``QueryResult[EchoResponse]``).
ResponseT = TypeVar("ResponseT", bound=Message, covariant=True)


@dataclass(frozen=True, slots=True)
class Target:
    """A miner to query: its hotkey (the signature must come from it) and where it listens."""

    hotkey: str
    host: str
    port: int
    crypto: str = "sr25519"
    #: SHA-256 of the miner's TLS certificate as served on chain; empty for a plaintext miner.
    tls_fingerprint: bytes = b""
    #: False for a TLS miner that does not require client certificates (its endpoint on chain
    #: says which: ``chain.endpoints``): a session-mode client signs its requests to it.
    offers_session: bool = True

    @property
    def session(self) -> bool:
        """Whether a session-mode client may send this miner unsigned requests (mutual TLS)."""
        return self.offers_session and bool(self.tls_fingerprint)

    @property
    def endpoint(self) -> str:
        """``host:port`` as gRPC dials it (IPv6 bracketed); also the channel cache's key."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class QueryError:
    """Why one miner's answer is missing: the gRPC status, what to do, and which miner."""

    status: grpc.StatusCode
    message: str
    hotkey: str


class QueryFailed(SubnetkitError):
    """Raised by :attr:`QueryResult.value` on a failed query; carries the query's error."""

    code = "query_failed"

    def __init__(self, error: QueryError) -> None:
        super().__init__(
            f"miner {error.hotkey} gave no answer [{error.status.name}]: {error.message}"
        )
        self.error = error
        self.status = error.status


@dataclass(frozen=True, slots=True)
class QueryResult(Generic[ResponseT]):
    """One target's outcome: exactly one of ``response`` / ``error`` is set.

    Generic in the response message, so a validator's ``to_answer(task, result:
    QueryResult[EchoResponse])`` reads ``result.value.text`` typed, with no cast.
    """

    target: Target
    response: ResponseT | None
    error: QueryError | None
    latency_s: float

    @property
    def ok(self) -> bool:
        """True when the miner answered and its signature verified (``response`` is set)."""
        return self.error is None

    @property
    def value(self) -> ResponseT:
        """The verified response; :class:`QueryFailed` when the query failed.

        A validator's ``to_answer`` is only called for answered queries, so there it never
        raises; elsewhere check :attr:`ok` first or let the error say why there is no answer.
        """
        if self.response is None:
            raise QueryFailed(
                self.error or QueryError(_S.UNKNOWN, "no response", self.target.hotkey)
            )
        return self.response


_SIZES = re.compile(r"\((\d+) vs\. (\d+)\)")


def queued_too_long(target: Target) -> QueryError:
    """The error of a target whose call never started: no fan-out slot before the deadline."""
    return QueryError(
        _S.DEADLINE_EXCEEDED,
        "the query's total deadline passed before this miner was called: raise the timeout or "
        "the client's max_concurrency",
        target.hotkey,
    )


def failed(target: Target, error: QueryError, started: float) -> QueryResult[Message]:
    """``target``'s result when it failed with ``error``, timed from ``started`` (perf_counter)."""
    return QueryResult(target, None, error, time.perf_counter() - started)


def rpc_error(
    exc: grpc.aio.AioRpcError,
    target: Target,
    *,
    timeout: float,
    body_bytes: int,
    max_response_bytes: int,
) -> QueryError:
    """The miner's status as a value; gRPC's own terse messages get what to fix added."""
    code, details = exc.code(), exc.details() or ""
    if code == _S.DEADLINE_EXCEEDED and details in ("Deadline Exceeded", ""):
        details = (
            f"no complete answer within the query's timeout of {timeout:g} s: raise "
            "the timeout or ask the miner for less work"
        )
    elif code == _S.RESOURCE_EXHAUSTED and "larger than max" in details:
        details = _size_message(details, body_bytes, max_response_bytes)
    return QueryError(code, details, target.hotkey)


def _size_message(details: str, body_bytes: int, max_response_bytes: int) -> str:
    """gRPC core's "Received message larger than max (X vs. Y)", from either end, explained.

    The miner's cap on a request (its ``max_request_bytes`` plus 64 KiB of slack) is enforced
    by gRPC core before any of our code sees the message, so the miner cannot reword it;
    the client knows what it sent and what it allows, so it says which limit was hit here.
    """
    sizes = _SIZES.search(details)
    size, limit = (int(sizes[1]), int(sizes[2])) if sizes else (None, None)
    # gRPC names the side that refused: CLIENT (our receive cap) or SERVER (the miner's).
    ours = "CLIENT:" in details or ("SERVER:" not in details and size != body_bytes)
    if ours:
        return (
            f"the miner's response ({size} bytes) is over this client's limit: raise "
            f"MinerClient's max_response_bytes ({max_response_bytes}) or ask for less "
            f"(gRPC: {details})"
        )
    return (
        f"the request body ({body_bytes} bytes) is over the miner's message size limit "
        f"({limit} bytes): send less data per request (gRPC: {details})"
    )

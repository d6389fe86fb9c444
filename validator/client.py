"""``MinerClient``: the validator's side of the wire. Signed fan-out queries, results as values.

What carries the bytes is a :class:`~subnetkit.wire.transport.Transport`: by default gRPC, one
channel per miner endpoint (HTTP/2 keepalive, reused across calls, a bounded LRU so a long-lived
validator never accumulates dead channels); or the in-process transport, which hands the same
signed bytes to miners living in this process (load tests, simulations). ``query`` sends one
signed request per target concurrently (at most ``max_concurrency`` in flight for the whole
client) and returns one :class:`QueryResult` per target, in target order, within the call's total
``timeout``. A miner's failure, including a missing or forged response signature, is a
:class:`QueryError` value on its result; it never raises. Nothing is kept per call after it
returns (Bittensor's Dendrite appends every call to a list that is never trimmed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf.message import DecodeError, Message

from subnetkit.core.errors import ConfigError, WireError
from subnetkit.core.keys import Signer
from subnetkit.validator.response_checks import ResponseChecks
from subnetkit.validator.results import (
    QueryError,
    QueryFailed,
    QueryResult,
    Target,
    failed,
    queued_too_long,
    rpc_error,
)
from subnetkit.validator.streams import CHUNK_OVERHEAD_BYTES, fan_in
from subnetkit.wire import protocol
from subnetkit.wire.methods import MethodRef, MethodSpec, resolve_method
from subnetkit.wire.pinning import CertificatePins
from subnetkit.wire.session_stream import Unsupported
from subnetkit.wire.statuses import rpc_error as status_error
from subnetkit.wire.statuses import status_of
from subnetkit.wire.tls import HotkeyCertificate
from subnetkit.wire.transport import GrpcTransport, Metadata, Transport

log = logging.getLogger(__name__)

_S = grpc.StatusCode


class MinerClient:
    """Signed queries to many miners. Use as ``async with MinerClient(signer) as client``.

    ``max_concurrency`` bounds requests in flight across all concurrent ``query``/``stream``
    calls of this client; ``max_channels`` bounds the open channels (least recently used closed
    first). ``verify_responses=False`` skips response signature checks (benchmarks only).
    ``max_response_bytes`` caps one response message and, for a verified stream, all the chunks
    held back from one miner until its trailer verifies (each counted with
    ``CHUNK_OVERHEAD_BYTES`` of overhead); ``max_stream_chunks`` caps one stream's chunk count.
    ``transport`` carries the bytes (a :class:`GrpcTransport` built from
    ``max_channels``/``channel_options`` by default); a trusted in-process transport turns
    signing and verification off for the whole client. A target with a ``tls_fingerprint`` is
    reached over TLS pinned to that certificate; ``tls_certificate`` (ours, bound to our
    hotkey) makes it mutual TLS, and ``session=True`` then sends requests unsigned, as the
    handshake proved who we are (docs/protocol.md, Session mode); ``session_verify_sample``
    is then the share of unary responses whose signature is checked (the pinned channel
    already authenticates them; see :mod:`subnetkit.validator.response_checks`). In session
    mode unary requests travel as messages on one session stream per miner
    (:mod:`subnetkit.wire.session_stream`), which saves gRPC's cost of a call per request;
    ``session_streams=False`` sends each as its own call.
    """

    def __init__(
        self,
        signer: Signer,
        *,
        max_concurrency: int = 256,
        max_channels: int = 4096,
        max_response_bytes: int = 64 * 1024 * 1024,
        max_stream_chunks: int = 100_000,
        verify_responses: bool = True,
        channel_options: Sequence[tuple[str, Any]] = (),
        transport: Transport | None = None,
        nonce_clock: Callable[[], int] | None = None,
        tls_certificate: HotkeyCertificate | None = None,
        session: bool = False,
        session_verify_sample: float = 1.0,
        session_streams: bool = True,
    ) -> None:
        if max_concurrency < 1 or max_channels < 1 or max_stream_chunks < 1:
            raise ConfigError(
                "max_concurrency, max_channels and max_stream_chunks must be at least 1"
            )
        if session and tls_certificate is None:
            raise ConfigError("session mode needs mutual TLS: pass tls_certificate too")
        self.signer = signer
        self.max_concurrency = max_concurrency
        self.max_channels = max_channels
        self.max_response_bytes = max_response_bytes
        self.max_stream_chunks = max_stream_chunks
        self.session = session
        self._pins = CertificatePins(tls_certificate, max_channels)
        self.transport: Transport = transport or GrpcTransport(
            max_channels=max_channels,
            max_response_bytes=max_response_bytes,
            channel_options=channel_options,
            pins=self._pins,
        )
        self.trusted = self.transport.trusted
        # Session mode sends unary requests as messages on one stream per miner, unless asked
        # not to (or the transport is not gRPC); a miner without them gets a call each.
        self._streams = (
            self.transport
            if session and session_streams and isinstance(self.transport, GrpcTransport)
            else None
        )
        self.verify_responses = verify_responses and not self.trusted
        self._checks = ResponseChecks(session_verify_sample)
        self._semaphore: asyncio.Semaphore | None = None
        # process-wide by default: nonces never repeat per hotkey (protocol.lane_clock when
        # several processes sign with one hotkey at once)
        self._nonce = nonce_clock or protocol.next_nonce
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        """Close the transport (gRPC: every channel, waiting up to ``grace`` s for calls)."""
        self._closed = True
        await self.transport.close(grace)

    @property
    def open_channels(self) -> int:
        """Channels held now (at most ``max_channels``): shows reuse and the LRU bound."""
        return self.transport.open_channels

    def _limit(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    # -- shared by unary and streaming calls ---------------------------------------------------
    def _query(self, spec: MethodSpec, request: Message, timeout: float) -> _Query:
        """Serialize and hash the request once for every target; fix the total deadline."""
        self._check_request(spec, request)
        body = request.SerializeToString()
        return _Query(spec, body, protocol.sha256(body), timeout, time.monotonic() + timeout)

    @staticmethod
    def _check_request(spec: MethodSpec, request: Message) -> None:
        if not isinstance(request, spec.request_cls):
            raise ConfigError(
                f"{spec.path} takes {spec.request_cls.DESCRIPTOR.full_name}, "
                f"got {type(request).__name__}"
            )

    async def _slot(self, deadline: float) -> float | None:
        """Take a fan-out slot; the seconds left for the call, or None (no slot held) when the
        total deadline passed first. Unary and streams alike never send a request that has
        no time left."""
        semaphore = self._limit()
        if not await _acquire(semaphore, deadline):
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            semaphore.release()
            return None
        return remaining

    async def _pin(self, target: Target) -> QueryError | str:
        """Where to send: the endpoint, or for a TLS miner the key of its pinned certificate
        (fetched and checked once); a failure to pin as that miner's error."""
        if not target.tls_fingerprint:
            return target.endpoint
        try:
            return await self._pins.ensure(
                target.host, target.port, target.endpoint, target.tls_fingerprint, target.hotkey
            )
        except WireError as exc:
            return QueryError(exc.status, exc.message, target.hotkey)

    def _start(
        self, target: Target, query: _Query, remaining: float, endpoint: str
    ) -> tuple[int, Any]:
        """Sign the request for ``target`` and send it: (nonce, the transport's call).

        In session mode over mutual TLS the handshake already proved our hotkey, so the request
        carries no signature, only what the signed response is bound to (docs/protocol.md).
        """
        if self._closed:
            raise ConfigError("MinerClient is closed")
        nonce = self._nonce()
        metadata: Metadata
        if self.session and target.session:
            metadata = protocol.session_request(receiver=target.hotkey, nonce=nonce)
        elif self.trusted:
            metadata = protocol.unsigned_request(self.signer, receiver=target.hotkey, nonce=nonce)
        else:
            metadata = protocol.sign_request(
                self.signer,
                method=query.spec.path,
                receiver=target.hotkey,
                body_hash=query.body_hash,
                nonce=nonce,
            )
        send = self.transport.stream if query.spec.server_streaming else self.transport.unary
        return nonce, send(endpoint, query.spec, query.body, metadata, remaining)

    def _verify(
        self, target: Target, trailer: dict[str, str | bytes], message: bytes
    ) -> QueryError | None:
        """None if ``target`` signed ``message`` in ``trailer``; else that miner's failure."""
        reason = protocol.check_response_trailer(
            trailer, miner=target.hotkey, crypto=target.crypto, message=message
        )
        return None if reason is None else QueryError(_S.UNAUTHENTICATED, reason, target.hotkey)

    def _rpc_error(self, exc: grpc.aio.AioRpcError, target: Target, query: _Query) -> QueryError:
        return rpc_error(
            exc,
            target,
            timeout=query.timeout,
            body_bytes=len(query.body),
            max_response_bytes=self.max_response_bytes,
        )

    # -- unary -----------------------------------------------------------------------------------
    async def query(
        self,
        targets: Sequence[Target],
        method: MethodRef,
        request: Message,
        timeout: float,
    ) -> list[QueryResult[Message]]:
        """One result per target, in order, all within ``timeout`` seconds of this call."""
        spec = resolve_method(method)
        if spec.server_streaming or spec.client_streaming:
            raise ConfigError(f"{spec.path} streams: use MinerClient.stream()")
        query = self._query(spec, request, timeout)
        if len(targets) == 1:
            return [await self._guarded(targets[0], query)]
        return list(await asyncio.gather(*(self._guarded(t, query) for t in targets)))

    async def query_one(
        self, target: Target, method: MethodRef, request: Message, timeout: float
    ) -> QueryResult[Message]:
        """:meth:`query` for one target: its single result (never raises for a miner's fault)."""
        return (await self.query([target], method, request, timeout))[0]

    async def _guarded(self, target: Target, query: _Query) -> QueryResult[Message]:
        started = time.perf_counter()
        try:
            return await self._call(target, query, started)
        except Exception as exc:  # one miner's failure must never fail the whole query
            log.debug("query to %s failed", target.hotkey, exc_info=True)
            return failed(
                target, QueryError(_S.UNKNOWN, f"client error: {exc!r}", target.hotkey), started
            )

    async def _call(self, target: Target, query: _Query, started: float) -> QueryResult[Message]:
        # the common case (no TLS pin to fetch, a free slot) awaits nothing before the send:
        # no coroutine per step, no timer (this runs once per miner per round)
        if target.tls_fingerprint:
            endpoint = await self._pin(target)
            if isinstance(endpoint, QueryError):
                return failed(target, endpoint, started)
        else:
            endpoint = target.endpoint
        semaphore = self._semaphore or self._limit()
        deadline = query.deadline
        if semaphore.locked():
            remaining = await self._slot(deadline)
            if remaining is None:
                return failed(target, queued_too_long(target), started)
        else:
            await semaphore.acquire()  # a free slot returns at once
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                semaphore.release()
                return failed(target, queued_too_long(target), started)
        try:
            try:
                streams = self._streams
                exchanged = None
                if streams is not None and target.session and streams.sessions.supports(endpoint):
                    exchanged = await self._on_stream(streams, target, query, remaining, endpoint)
                if exchanged is None:
                    if streams is not None:  # the stream was tried: what is left now
                        remaining = query.deadline - time.monotonic()
                    nonce, call = self._start(target, query, remaining, endpoint)
                    raw: bytes = await call
                    trailer = protocol.metadata_dict(await call.trailing_metadata())
                else:
                    nonce, raw, trailer = exchanged
            except grpc.aio.AioRpcError as exc:
                return failed(target, self._rpc_error(exc, target, query), started)
        finally:
            semaphore.release()
        latency = time.perf_counter() - started
        spec = query.spec
        if self.verify_responses and self._checks.wants(
            target.hotkey, self.session and target.session
        ):
            message = protocol.response_message(
                version=protocol.PROTOCOL_VERSION,
                method=spec.path,
                caller=self.signer.ss58,
                request_hash=query.body_hash,
                nonce=nonce,
                response_hash=protocol.sha256(raw),
                miner_crypto=target.crypto,
                miner=target.hotkey,
            )
            error = self._verify(target, trailer, message)
            if error is not None:
                self._checks.failed(target.hotkey)
                return QueryResult(target, None, error, latency)
        try:
            response = spec.response_cls.FromString(raw)
        except DecodeError as exc:
            error = QueryError(
                _S.INTERNAL,
                f"response does not parse as {spec.response_cls.DESCRIPTOR.full_name}: {exc}",
                target.hotkey,
            )
            return QueryResult(target, None, error, latency)
        return QueryResult(target, response, None, latency)

    async def _on_stream(
        self,
        streams: GrpcTransport,
        target: Target,
        query: _Query,
        remaining: float,
        endpoint: str,
    ) -> tuple[int, bytes, dict[str, str | bytes]] | None:
        """A unary request on the miner's session stream (docs/protocol.md, Session streams):
        (nonce, response bytes, the signature as a trailer would carry it), or None when the
        miner serves no session streams (a call per request then). A refusal raises as a
        call's would, so both map to results in one place."""
        if self._closed:
            raise ConfigError("MinerClient is closed")
        nonce = self._nonce()
        try:
            reply = await streams.session_request(
                endpoint, target.hotkey, query.spec.path, query.body, nonce, remaining
            )
        except Unsupported:
            return None
        if reply.code:
            raise status_error(status_of(reply.code), reply.details)
        trailer: dict[str, str | bytes] = {
            protocol.MD_MINER: target.hotkey,
            protocol.MD_RESPONSE_SIGNATURE: reply.signature,
        }
        if target.crypto != protocol.DEFAULT_CRYPTO:
            trailer[protocol.MD_MINER_CRYPTO] = target.crypto
        return nonce, reply.body, trailer

    # -- server streaming ------------------------------------------------------------------------
    async def stream(
        self,
        targets: Sequence[Target],
        method: MethodRef,
        request: Message,
        timeout: float,
        *,
        verified: bool = True,
    ) -> AsyncIterator[tuple[Target, Message | QueryError]]:
        """Yield ``(target, chunk)`` from every target, within ``timeout`` s in all.

        A target's stream ends silently when it succeeds; otherwise its last item is a
        :class:`QueryError` (status, message, hotkey). ``verified`` (the default) holds each
        target's chunks until its signed trailer verifies and yields them only then, so the
        caller never sees a chunk it would have to take back; a failed stream yields only its
        error. The held chunks count against ``max_response_bytes`` per target (past it the
        stream is that miner's RESOURCE_EXHAUSTED). ``verified=False`` yields chunks as they
        arrive, for low latency: a :class:`QueryError` after chunks then means those chunks
        must be discarded.
        """
        spec = resolve_method(method)
        if not spec.server_streaming:
            raise ConfigError(f"{spec.path} is unary: use MinerClient.query()")
        query = self._query(spec, request, timeout)
        async for item in fan_in(self, targets, query, verified):
            yield item


@dataclass(frozen=True, slots=True)
class _Query:
    """One call's request, prepared once for all its targets."""

    spec: MethodSpec
    body: bytes
    body_hash: bytes
    timeout: float  # as the caller gave it, for messages
    deadline: float  # time.monotonic() by which every target's answer must be in


async def _acquire(semaphore: asyncio.Semaphore, deadline: float) -> bool:
    """Take a fan-out slot before ``deadline``; the common uncontended case sets no timer."""
    if not semaphore.locked():
        await semaphore.acquire()  # returns at once: a free slot never suspends
        return True
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            await semaphore.acquire()
    except TimeoutError:
        return False
    return True


__all__ = [
    "CHUNK_OVERHEAD_BYTES",
    "MinerClient",
    "QueryError",
    "QueryFailed",
    "QueryResult",
    "Target",
]

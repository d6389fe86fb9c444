"""``MinerClient``: the validator's side of the wire. Signed fan-out queries, results as values.

One client keeps one gRPC channel per miner endpoint (HTTP/2 keepalive, reused across calls, a
bounded LRU so a long-lived validator never accumulates dead channels). ``query`` sends one
signed request per target concurrently (at most ``max_concurrency`` in flight for the whole
client) and returns one :class:`QueryResult` per target, in target order, within the call's total
``timeout``. A miner's failure, including a missing or forged response signature, is a
:class:`QueryError` value on its result; it never raises. Nothing is kept per call after it
returns (Bittensor's Dendrite appends every call to a list that is never trimmed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message

from subnetkit.errors import ConfigError
from subnetkit.keys import Signer
from subnetkit.wire import protocol
from subnetkit.wire.methods import MethodSpec, resolve_method

log = logging.getLogger(__name__)

_S = grpc.StatusCode


@dataclass(frozen=True, slots=True)
class Target:
    """A miner to query: its hotkey (the signature must come from it) and where it listens."""

    hotkey: str
    host: str
    port: int
    crypto: str = "sr25519"

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class QueryError:
    """Why one miner's answer is missing: the gRPC status, what to do, and which miner."""

    status: grpc.StatusCode
    message: str
    hotkey: str


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One target's outcome: exactly one of ``response`` / ``error`` is set."""

    target: Target
    response: Message | None
    error: QueryError | None
    latency_s: float

    @property
    def ok(self) -> bool:
        return self.error is None


class _Endpoint:
    __slots__ = ("callables", "channel")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.callables: dict[str, Any] = {}


class MinerClient:
    """Signed queries to many miners. Use as ``async with MinerClient(signer) as client``.

    ``max_concurrency`` bounds requests in flight across all concurrent ``query``/``stream``
    calls of this client; ``max_channels`` bounds the open channels (least recently used closed
    first). ``verify_responses=False`` skips response signature checks (benchmarks only).
    """

    def __init__(
        self,
        signer: Signer,
        *,
        max_concurrency: int = 256,
        max_channels: int = 4096,
        max_response_bytes: int = 64 * 1024 * 1024,
        verify_responses: bool = True,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if max_concurrency < 1 or max_channels < 1:
            raise ConfigError("max_concurrency and max_channels must be at least 1")
        self.signer = signer
        self.max_concurrency = max_concurrency
        self.max_channels = max_channels
        self.verify_responses = verify_responses
        self._options = [
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.max_receive_message_length", max_response_bytes),
            ("grpc.max_send_message_length", -1),
            *channel_options,
        ]
        self._endpoints: OrderedDict[str, _Endpoint] = OrderedDict()
        self._semaphore: asyncio.Semaphore | None = None
        self._nonce = protocol.next_nonce  # process-wide: nonces never repeat per hotkey
        self._closing: set[asyncio.Task[None]] = set()
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
        """Close every channel (waiting up to ``grace`` s for calls in flight)."""
        self._closed = True
        endpoints = list(self._endpoints.values())
        self._endpoints.clear()
        await asyncio.gather(*(e.channel.close(grace) for e in endpoints), return_exceptions=True)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    @property
    def open_channels(self) -> int:
        return len(self._endpoints)

    def _endpoint(self, target: Target) -> _Endpoint:
        if self._closed:
            raise ConfigError("MinerClient is closed")
        key = target.endpoint
        endpoint = self._endpoints.get(key)
        if endpoint is not None:
            self._endpoints.move_to_end(key)
            return endpoint
        endpoint = _Endpoint(grpc.aio.insecure_channel(key, options=self._options))
        self._endpoints[key] = endpoint
        if len(self._endpoints) > self.max_channels:
            _, old = self._endpoints.popitem(last=False)
            task = asyncio.ensure_future(old.channel.close(grace=5.0))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return endpoint

    def _callable(self, target: Target, spec: MethodSpec) -> Any:
        endpoint = self._endpoint(target)
        fn = endpoint.callables.get(spec.path)
        if fn is None:
            # No serializers: we send and receive the exact bytes that are hashed and signed.
            if spec.server_streaming:
                fn = endpoint.channel.unary_stream(spec.path)
            else:
                fn = endpoint.channel.unary_unary(spec.path)
            endpoint.callables[spec.path] = fn
        return fn

    def _limit(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        return self._semaphore

    # -- unary -----------------------------------------------------------------------------------
    async def query(
        self,
        targets: Sequence[Target],
        method: str | MethodDescriptor,
        request: Message,
        timeout: float,
    ) -> list[QueryResult]:
        """One result per target, in order, all within ``timeout`` seconds of this call."""
        spec = self._unary_spec(method, request)
        body = request.SerializeToString()
        body_hash = protocol.sha256(body)
        deadline = time.monotonic() + timeout
        if len(targets) == 1:
            return [await self._guarded(targets[0], spec, body, body_hash, deadline)]
        return list(
            await asyncio.gather(
                *(self._guarded(t, spec, body, body_hash, deadline) for t in targets)
            )
        )

    async def query_one(
        self, target: Target, method: str | MethodDescriptor, request: Message, timeout: float
    ) -> QueryResult:
        return (await self.query([target], method, request, timeout))[0]

    def _unary_spec(self, method: str | MethodDescriptor, request: Message) -> MethodSpec:
        spec = resolve_method(method)
        if spec.server_streaming or spec.client_streaming:
            raise ConfigError(f"{spec.path} streams: use MinerClient.stream()")
        self._check_request(spec, request)
        return spec

    @staticmethod
    def _check_request(spec: MethodSpec, request: Message) -> None:
        if not isinstance(request, spec.request_cls):
            raise ConfigError(
                f"{spec.path} takes {spec.request_cls.DESCRIPTOR.full_name}, "
                f"got {type(request).__name__}"
            )

    async def _guarded(
        self, target: Target, spec: MethodSpec, body: bytes, body_hash: bytes, deadline: float
    ) -> QueryResult:
        started = time.perf_counter()
        try:
            return await self._call(target, spec, body, body_hash, deadline, started)
        except Exception as exc:  # one miner's failure must never fail the whole query
            log.debug("query to %s failed", target.hotkey, exc_info=True)
            return _failed(target, _S.UNKNOWN, f"client error: {exc!r}", started)

    async def _call(
        self,
        target: Target,
        spec: MethodSpec,
        body: bytes,
        body_hash: bytes,
        deadline: float,
        started: float,
    ) -> QueryResult:
        semaphore = self._limit()
        if not await _acquire(semaphore, deadline):
            return _failed(target, _S.DEADLINE_EXCEEDED, _QUEUED_TOO_LONG, started)
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _failed(target, _S.DEADLINE_EXCEEDED, _QUEUED_TOO_LONG, started)
            nonce = self._nonce()
            metadata = protocol.sign_request(
                self.signer,
                method=spec.path,
                receiver=target.hotkey,
                body_hash=body_hash,
                nonce=nonce,
            )
            call = self._callable(target, spec)(body, metadata=metadata, timeout=remaining)
            try:
                raw: bytes = await call
                trailer = protocol.metadata_dict(await call.trailing_metadata())
            except grpc.aio.AioRpcError as exc:
                return _failed(target, exc.code(), exc.details() or "", started)
        finally:
            semaphore.release()
        latency = time.perf_counter() - started
        if self.verify_responses:
            message = protocol.response_message(
                version=protocol.PROTOCOL_VERSION,
                method=spec.path,
                caller=self.signer.ss58,
                request_hash=body_hash,
                nonce=nonce,
                response_hash=protocol.sha256(raw),
                miner_crypto=target.crypto,
                miner=target.hotkey,
            )
            reason = protocol.check_response_trailer(
                trailer, miner=target.hotkey, crypto=target.crypto, message=message
            )
            if reason is not None:
                return QueryResult(
                    target, None, QueryError(_S.UNAUTHENTICATED, reason, target.hotkey), latency
                )
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

    # -- server streaming ------------------------------------------------------------------------
    async def stream(
        self,
        targets: Sequence[Target],
        method: str | MethodDescriptor,
        request: Message,
        timeout: float,
    ) -> AsyncIterator[tuple[Target, Message | QueryError]]:
        """Yield ``(target, chunk)`` as chunks arrive from any target, within ``timeout`` s.

        A target's stream ends silently when its trailer verifies; otherwise its last item is a
        :class:`QueryError` (status, message, hotkey). Chunks are hashed into the chain the miner
        signs, so a :class:`QueryError` after chunks means those chunks must be discarded.
        """
        spec = resolve_method(method)
        if not spec.server_streaming:
            raise ConfigError(f"{spec.path} is unary: use MinerClient.query()")
        self._check_request(spec, request)
        body = request.SerializeToString()
        body_hash = protocol.sha256(body)
        deadline = time.monotonic() + timeout
        queue: asyncio.Queue[tuple[Target, Message | QueryError] | None] = asyncio.Queue(64)
        tasks = [
            asyncio.ensure_future(self._stream_one(t, spec, body, body_hash, deadline, queue))
            for t in targets
        ]
        try:
            remaining = len(tasks)
            while remaining:
                item = await queue.get()
                if item is None:
                    remaining -= 1
                    continue
                yield item
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _stream_one(
        self,
        target: Target,
        spec: MethodSpec,
        body: bytes,
        body_hash: bytes,
        deadline: float,
        queue: asyncio.Queue[tuple[Target, Message | QueryError] | None],
    ) -> None:
        try:
            error = await self._stream_call(target, spec, body, body_hash, deadline, queue)
        except Exception as exc:
            log.debug("stream from %s failed", target.hotkey, exc_info=True)
            error = QueryError(_S.UNKNOWN, f"client error: {exc!r}", target.hotkey)
        if error is not None:
            await queue.put((target, error))
        await queue.put(None)

    async def _stream_call(
        self,
        target: Target,
        spec: MethodSpec,
        body: bytes,
        body_hash: bytes,
        deadline: float,
        queue: asyncio.Queue[tuple[Target, Message | QueryError] | None],
    ) -> QueryError | None:
        semaphore = self._limit()
        if not await _acquire(semaphore, deadline):
            return QueryError(_S.DEADLINE_EXCEEDED, _QUEUED_TOO_LONG, target.hotkey)
        try:
            nonce = self._nonce()
            metadata = protocol.sign_request(
                self.signer,
                method=spec.path,
                receiver=target.hotkey,
                body_hash=body_hash,
                nonce=nonce,
            )
            remaining = max(deadline - time.monotonic(), 0.001)
            call = self._callable(target, spec)(body, metadata=metadata, timeout=remaining)
            chain = protocol.ChunkChain(body_hash)
            try:
                async for raw in call:
                    chain.add(raw)
                    try:
                        chunk = spec.response_cls.FromString(raw)
                    except DecodeError as exc:
                        call.cancel()
                        return QueryError(
                            _S.INTERNAL, f"chunk does not parse: {exc}", target.hotkey
                        )
                    await queue.put((target, chunk))
                trailer = protocol.metadata_dict(await call.trailing_metadata())
            except grpc.aio.AioRpcError as exc:
                return QueryError(exc.code(), exc.details() or "", target.hotkey)
        finally:
            semaphore.release()
        if not self.verify_responses:
            return None
        message = protocol.stream_message(
            version=protocol.PROTOCOL_VERSION,
            method=spec.path,
            caller=self.signer.ss58,
            request_hash=body_hash,
            nonce=nonce,
            chunks=chain.count,
            chain_hash=chain.digest,
            miner_crypto=target.crypto,
            miner=target.hotkey,
        )
        reason = protocol.check_response_trailer(
            trailer, miner=target.hotkey, crypto=target.crypto, message=message
        )
        return None if reason is None else QueryError(_S.UNAUTHENTICATED, reason, target.hotkey)


_QUEUED_TOO_LONG = (
    "the query's total deadline passed before this miner was called: raise the timeout or the "
    "client's max_concurrency"
)


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


def _failed(target: Target, status: grpc.StatusCode, message: str, started: float) -> QueryResult:
    return QueryResult(
        target, None, QueryError(status, message, target.hotkey), time.perf_counter() - started
    )


__all__ = ["MinerClient", "QueryError", "QueryResult", "Target"]

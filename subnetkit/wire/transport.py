"""The transport seam under ``MinerClient``: how signed request bytes reach a miner and back.

The client signs, hashes and verifies; a :class:`Transport` only carries bytes and metadata and
reports a refusal as a gRPC status. Two implementations exist:

* :class:`GrpcTransport` (the default): one HTTP/2 channel per miner endpoint, kept in a bounded
  LRU, exactly what travels between machines;
* :class:`~subnetkit.wire.inprocess.InProcessTransport`: hands the same bytes to a
  ``MinerServer``'s pipeline in the same process, so thousands of miners can be load-tested or
  simulated with the same ``Miner`` code and the same cryptography, without sockets.

A call object looks like grpc.aio's: awaiting a unary call gives the response bytes, iterating a
stream call gives the chunks, ``trailing_metadata()`` gives the trailer, a refusal raises
``grpc.aio.AioRpcError`` (its public status exception). Keeping that one shape means the client
maps statuses to results in one place whatever carries the bytes (docs/load-testing.md).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import grpc

from subnetkit.core.errors import ConfigError
from subnetkit.protos.session.v1.session_pb2 import SessionResponse
from subnetkit.wire.methods import MethodSpec
from subnetkit.wire.pinning import TLS_KEY_PREFIX, CertificatePins
from subnetkit.wire.session_stream import SessionStreams

Metadata = Sequence[tuple[str, str | bytes]]


class UnaryCall(Protocol):
    """One unary call in flight: await it for the body; the trailer once it has answered."""

    def __await__(self) -> Any: ...

    async def trailing_metadata(self) -> Metadata | None: ...

    def cancel(self) -> bool: ...


class StreamCall(Protocol):
    """One server-streaming call in flight: iterate it for the chunks' bytes."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def trailing_metadata(self) -> Metadata | None: ...

    def cancel(self) -> bool: ...


class Transport(Protocol):
    """Carries one request's bytes and metadata to the miner at ``endpoint`` (``host:port``)."""

    #: True when requests are not signed and responses not verified (in-process trusted mode
    #: only, for economics simulations); a gRPC transport is never trusted.
    trusted: bool

    def unary(
        self, endpoint: str, spec: MethodSpec, body: bytes, metadata: Metadata, timeout: float
    ) -> UnaryCall: ...

    def stream(
        self, endpoint: str, spec: MethodSpec, body: bytes, metadata: Metadata, timeout: float
    ) -> StreamCall: ...

    @property
    def open_channels(self) -> int: ...

    async def close(self, grace: float | None = None) -> None: ...


class _Endpoint:
    __slots__ = ("callables", "channel")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.callables: dict[str, Any] = {}


class GrpcTransport:
    """gRPC over HTTP/2: one channel per endpoint, reused, at most ``max_channels`` open.

    Channels are keyed by ``host:port`` and closed least recently used first, so a long-lived
    validator never accumulates dead channels. A key made by ``pins`` (a miner serving TLS,
    pinned from the chain) gets a TLS channel that trusts only that miner's certificate.
    """

    trusted = False

    def __init__(
        self,
        *,
        max_channels: int = 4096,
        max_response_bytes: int = 64 * 1024 * 1024,
        channel_options: Sequence[tuple[str, Any]] = (),
        pins: CertificatePins | None = None,
        session_rotate_s: float = 15.0,
    ) -> None:
        if max_channels < 1:
            raise ConfigError("max_channels must be at least 1")
        self.max_channels = max_channels
        self.pins = pins or CertificatePins()
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
        #: session streams (mutual TLS), one per endpoint, on that endpoint's channel
        self.sessions = SessionStreams(session_rotate_s)
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def open_channels(self) -> int:
        """Channels held now (at most ``max_channels``): shows reuse and the LRU bound."""
        return len(self._endpoints)

    def unary(
        self, endpoint: str, spec: MethodSpec, body: bytes, metadata: Metadata, timeout: float
    ) -> UnaryCall:
        fn = self._callable(endpoint, spec, streaming=False)
        call: UnaryCall = fn(body, metadata=metadata, timeout=timeout)
        return call

    def stream(
        self, endpoint: str, spec: MethodSpec, body: bytes, metadata: Metadata, timeout: float
    ) -> StreamCall:
        fn = self._callable(endpoint, spec, streaming=True)
        call: StreamCall = fn(body, metadata=metadata, timeout=timeout)
        return call

    async def session_request(
        self,
        endpoint: str,
        receiver: str,
        method: str,
        body: bytes,
        nonce: int,
        timeout: float,
    ) -> SessionResponse:
        """One unary request on the endpoint's session stream (mutual TLS; its channel must be
        a pinned one): :meth:`SessionStreams.request`."""
        channel = self._endpoint(endpoint).channel
        return await self.sessions.request(
            endpoint, channel, receiver, method, body, nonce, timeout
        )

    async def close(self, grace: float | None = None) -> None:
        """Close every channel (waiting up to ``grace`` s for calls in flight)."""
        self._closed = True
        self.sessions.close()
        endpoints = list(self._endpoints.values())
        self._endpoints.clear()
        await asyncio.gather(*(e.channel.close(grace) for e in endpoints), return_exceptions=True)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _endpoint(self, key: str) -> _Endpoint:
        if self._closed:
            raise ConfigError("MinerClient is closed")
        endpoint = self._endpoints.get(key)
        if endpoint is not None:
            self._endpoints.move_to_end(key)
            return endpoint
        if key.startswith(TLS_KEY_PREFIX):  # a pinned TLS endpoint (subnetkit.wire.pinning)
            channel = self.pins.channel(key, self._options)
        else:
            channel = grpc.aio.insecure_channel(key, options=self._options)
        endpoint = _Endpoint(channel)
        self._endpoints[key] = endpoint
        if len(self._endpoints) > self.max_channels:
            old_key, old = self._endpoints.popitem(last=False)
            self.sessions.forget(old_key)
            task = asyncio.ensure_future(old.channel.close(grace=5.0))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return endpoint

    def _callable(self, key: str, spec: MethodSpec, *, streaming: bool) -> Any:
        endpoint = self._endpoint(key)
        fn = endpoint.callables.get(spec.path)
        if fn is None:
            # No serializers: we send and receive the exact bytes that are hashed and signed.
            if streaming:
                fn = endpoint.channel.unary_stream(spec.path)
            else:
                fn = endpoint.channel.unary_unary(spec.path)
            endpoint.callables[spec.path] = fn
        return fn


__all__ = [
    "GrpcTransport",
    "Metadata",
    "StreamCall",
    "Transport",
    "UnaryCall",
]

"""In-process transport: miners in this process answer through their real pipeline, no sockets.

An :class:`InProcessNetwork` is a registry of miner servers by ``host:port`` (the host is
``inproc``, ports are handed out from 1). A ``MinerServer`` built with ``network=`` attaches to it
instead of binding a socket; :class:`InProcessTransport` under a ``MinerClient`` then hands each
request's bytes and metadata to that server's pipeline with an :class:`InProcessContext` standing
in for gRPC's servicer context. Everything the pipeline does still happens: the request is
signed and verified, freshness and the replay cache are checked, blacklist, priority, per-caller
limits and handler deadlines apply, and the response is signed and verified. Only HTTP/2 and
the kernel are skipped, which is what lets thousands of miners share one process.

``trusted=True`` is the one exception, named as such: requests are not signed and responses not
signed or verified. It exists for economics simulations where cryptography is not the question;
a miner honours it only for an in-process context, never for a request off the network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, NoReturn, Protocol

import grpc

from subnetkit.wire.methods import MethodSpec
from subnetkit.wire.statuses import rpc_error
from subnetkit.wire.transport import Metadata

#: The host part of every in-process endpoint (``inproc:7``); never a resolvable address.
IN_PROCESS_HOST = "inproc"
_S = grpc.StatusCode


class InProcessAbort(Exception):
    """A miner refused the request (what ``context.abort`` raises in gRPC, as a value here)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class InProcessContext:
    """The part of ``grpc.aio.ServicerContext`` the miner pipeline uses, for one request.

    ``trusted`` is set only by a trusted :class:`InProcessTransport`: the pipeline then skips
    the request signature check and does not sign its response.
    """

    __slots__ = ("_chunks", "_deadline", "_metadata", "code", "details", "trailer", "trusted")

    def __init__(
        self,
        metadata: Metadata,
        deadline: float | None,
        *,
        trusted: bool = False,
        chunks: asyncio.Queue[Any] | None = None,
    ) -> None:
        self._metadata = metadata
        self._deadline = deadline
        self._chunks = chunks
        self.trusted = trusted
        self.trailer: Metadata | None = None
        #: a refusal's status and message, set by the pipeline (as on a gRPC context)
        self.code: grpc.StatusCode | None = None
        self.details = ""

    def invocation_metadata(self) -> Metadata:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise InProcessAbort(code, details)

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        self.trailer = metadata

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def refusal(self) -> InProcessAbort | None:
        """The status the handler ended the call with, if not OK (what gRPC would send)."""
        if self.code is None or self.code is _S.OK:
            return None
        return InProcessAbort(self.code, self.details)

    async def write(self, chunk: bytes) -> None:
        """A stream chunk: waits while the caller's queue is full (flow control, like HTTP/2)."""
        if self._chunks is None:
            raise RuntimeError("write() on a unary call")
        await self._chunks.put(chunk)


class InProcessEndpoint(Protocol):
    """What a miner server offers the in-process network: its pipeline, by method path."""

    async def handle_in_process(
        self, path: str, body: bytes, context: InProcessContext
    ) -> bytes | None: ...


class InProcessNetwork:
    """Miners reachable in this process, by ``inproc:PORT``. One network per swarm or test."""

    host = IN_PROCESS_HOST

    def __init__(self) -> None:
        self._servers: dict[str, InProcessEndpoint] = {}
        self._next_port = 1

    def attach(self, server: InProcessEndpoint) -> int:
        """Make ``server`` reachable; returns its port (``inproc:PORT`` is its endpoint)."""
        port = self._next_port
        self._next_port += 1
        self._servers[f"{self.host}:{port}"] = server
        return port

    def detach(self, port: int) -> None:
        """Stop routing to the server at ``port`` (calls to it then get UNAVAILABLE)."""
        self._servers.pop(f"{self.host}:{port}", None)

    def lookup(self, endpoint: str) -> InProcessEndpoint | None:
        return self._servers.get(endpoint)

    def __len__(self) -> int:
        return len(self._servers)


class InProcessTransport:
    """Carries requests to miners on an :class:`InProcessNetwork` (see the module docstring).

    ``max_response_bytes`` is enforced as gRPC's channel limit would be, with gRPC's wording.
    """

    def __init__(
        self,
        network: InProcessNetwork,
        *,
        trusted: bool = False,
        max_response_bytes: int = 64 * 1024 * 1024,
        stream_buffer: int = 16,
    ) -> None:
        self.network = network
        self.trusted = trusted
        self.max_response_bytes = max_response_bytes
        self.stream_buffer = stream_buffer

    @property
    def open_channels(self) -> int:
        return 0  # no channels: nothing to reuse or bound

    def unary(
        self, endpoint: str, spec: MethodSpec, body: bytes, metadata: Metadata, timeout: float
    ) -> _UnaryCall:
        return _UnaryCall(self, endpoint, spec.path, body, metadata, timeout)

    def stream(
        self, endpoint: str, spec: MethodSpec, body: bytes, metadata: Metadata, timeout: float
    ) -> _StreamCall:
        return _StreamCall(self, endpoint, spec.path, body, metadata, timeout)

    async def close(self, grace: float | None = None) -> None:
        return None

    def _server(self, endpoint: str) -> InProcessEndpoint:
        server = self.network.lookup(endpoint)
        if server is None:
            raise rpc_error(_S.UNAVAILABLE, f"no in-process miner at {endpoint}")
        return server

    def _check_size(self, size: int) -> None:
        if size > self.max_response_bytes:
            raise rpc_error(
                _S.RESOURCE_EXHAUSTED,
                f"CLIENT: Received message larger than max ({size} vs. {self.max_response_bytes})",
            )


def _deadline_exceeded() -> grpc.aio.AioRpcError:
    return rpc_error(_S.DEADLINE_EXCEEDED, "Deadline Exceeded")


class _UnaryCall:
    """A unary call: awaiting it runs the miner's pipeline under the caller's deadline."""

    __slots__ = ("_body", "_context", "_endpoint", "_path", "_timeout", "_transport")

    def __init__(
        self,
        transport: InProcessTransport,
        endpoint: str,
        path: str,
        body: bytes,
        metadata: Metadata,
        timeout: float,
    ) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self._path = path
        self._body = body
        self._timeout = timeout
        deadline = time.monotonic() + timeout
        self._context = InProcessContext(metadata, deadline, trusted=transport.trusted)

    def __await__(self) -> Any:
        return self._run().__await__()

    async def _run(self) -> bytes:
        server = self._transport._server(self._endpoint)
        try:
            async with asyncio.timeout(self._timeout):
                out = await server.handle_in_process(self._path, self._body, self._context)
        except TimeoutError:
            raise _deadline_exceeded() from None
        except InProcessAbort as exc:
            raise rpc_error(exc.code, exc.details) from None
        refused = self._context.refusal()
        if refused is not None:
            raise rpc_error(refused.code, refused.details)
        body = out or b""
        self._transport._check_size(len(body))
        return body

    async def trailing_metadata(self) -> Metadata | None:
        return self._context.trailer

    def cancel(self) -> bool:
        return False  # the awaiting task owns the work: cancelling it cancels the handler


class _Done:
    __slots__ = ("error",)

    def __init__(self, error: grpc.aio.AioRpcError | None) -> None:
        self.error = error


class _StreamCall:
    """A server-streaming call: the pipeline runs as a task writing into a bounded queue."""

    def __init__(
        self,
        transport: InProcessTransport,
        endpoint: str,
        path: str,
        body: bytes,
        metadata: Metadata,
        timeout: float,
    ) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self._path = path
        self._body = body
        self._timeout = timeout
        self._queue: asyncio.Queue[Any] = asyncio.Queue(transport.stream_buffer)
        deadline = time.monotonic() + timeout
        self._context = InProcessContext(
            metadata, deadline, trusted=transport.trusted, chunks=self._queue
        )
        self._task: asyncio.Task[None] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _serve(self, server: InProcessEndpoint) -> None:
        error: grpc.aio.AioRpcError | None = None
        try:
            async with asyncio.timeout(self._timeout):
                await server.handle_in_process(self._path, self._body, self._context)
            refused = self._context.refusal()
            if refused is not None:
                error = rpc_error(refused.code, refused.details)
        except TimeoutError:
            error = _deadline_exceeded()
        except InProcessAbort as exc:
            error = rpc_error(exc.code, exc.details)
        except Exception as exc:  # a bug below the pipeline: end the stream, never hang it
            error = rpc_error(_S.UNKNOWN, f"in-process miner failed: {exc!r}")
        await self._queue.put(_Done(error))

    async def _chunks(self) -> AsyncIterator[bytes]:
        server = self._transport._server(self._endpoint)
        self._task = asyncio.ensure_future(self._serve(server))
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Done):
                    if item.error is not None:
                        raise item.error
                    return
                self._transport._check_size(len(item))
                yield item
        finally:
            self.cancel()

    async def trailing_metadata(self) -> Metadata | None:
        return self._context.trailer

    def cancel(self) -> bool:
        if self._task is None or self._task.done():
            return False
        return self._task.cancel()


__all__ = [
    "IN_PROCESS_HOST",
    "InProcessAbort",
    "InProcessContext",
    "InProcessEndpoint",
    "InProcessNetwork",
    "InProcessTransport",
]

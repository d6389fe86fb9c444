"""The caller's side of session streams: many unary requests to one miner on one call.

Over mutual TLS the handshake proves the validator's hotkey, so session mode sends requests
unsigned; what is left per request is gRPC's own cost of a call, which is most of it. A session
stream (``subnetkit.session.v1.Session/Open``, docs/protocol.md "Session streams") is one
long bidirectional call: each request is a message keyed by its nonce, each answer comes back
with that nonce, signed as a call's response would be, in whatever order the miner finishes.

:class:`SessionStream` is one such call. :class:`SessionStreams` keeps one per miner endpoint and
rotates it every ``rotate_s`` seconds: the old one is half-closed and drains while new requests
go to a fresh one. That keeps every stream far younger than a miner's maximum connection age (at
which gRPC would cut it off, answers in flight and all) and re-checks the client certificate on
each new stream. The miner answers every message it has read before it ends a stream with OK, so
a request a stream ended without answering was never run and is sent again on a new stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError

from subnetkit.protos.session.v1.session_pb2 import (
    SessionRequest,
    SessionRequests,
    SessionResponse,
    SessionResponses,
)
from subnetkit.wire import protocol
from subnetkit.wire.batch_writer import BatchWriter
from subnetkit.wire.statuses import rpc_error

log = logging.getLogger(__name__)

_S = grpc.StatusCode
#: the session stream's service, method and gRPC path (subnetkit/protos/session/v1/session.proto)
SESSION_SERVICE = "subnetkit.session.v1.Session"
SESSION_METHOD = "Open"
SESSION_PATH = f"/{SESSION_SERVICE}/{SESSION_METHOD}"
#: the most requests one stream message may hold (a miner ends a stream that sends more): small
#: enough that a message never costs a miner much more work than its sender, large enough that a
#: busy stream pays gRPC's per-message cost rarely
MAX_REQUESTS_PER_MESSAGE = 64
#: endpoints remembered as serving no session streams
_MAX_UNSUPPORTED = 4096


class Unread(Exception):
    """The stream ended (or was half-closed) without the miner reading this request: it was
    never run, so it may be sent again on a new stream."""


class Unsupported(Exception):
    """The miner serves no session streams (UNIMPLEMENTED): use a call per request."""


class SessionStream:
    """One open ``Session/Open`` call to one miner; requests multiplexed by nonce and written
    in batches (:class:`~subnetkit.wire.batch_writer.BatchWriter`)."""

    def __init__(self, channel: grpc.aio.Channel, receiver: str) -> None:
        # No serializers: the messages are encoded here, as the call's bytes are elsewhere.
        self._call: Any = channel.stream_stream(SESSION_PATH)(
            metadata=protocol.session_open(receiver=receiver)
        )
        self._pending: dict[int, asyncio.Future[SessionResponse]] = {}
        self.opened = time.monotonic()
        #: set once the stream is over: None if it ended OK, else its failure
        self.failure: grpc.aio.AioRpcError | None = None
        # (grpc's stubs type an untyped call's write as taking nothing: it takes our bytes)
        write = cast(Callable[[bytes], Awaitable[object]], self._call.write)
        self._writer: BatchWriter[SessionRequest] = BatchWriter(
            write,
            _encode_requests,
            _request_size,
            max_items=MAX_REQUESTS_PER_MESSAGE,
            finish=self._call.done_writing,
        )
        self._writing = asyncio.ensure_future(self._writer.run())
        self.reader = asyncio.ensure_future(self._read())

    @property
    def accepting(self) -> bool:
        """Whether new requests may be sent here (not retired, not over)."""
        return not self._writer.closed and not self.reader.done()

    async def request(
        self, method: str, body: bytes, nonce: int, timeout: float
    ) -> SessionResponse:
        """Send one request and await its answer within ``timeout`` s.

        Raises ``AioRpcError`` (DEADLINE_EXCEEDED, or the stream's failure), :class:`Unread`
        (never read: send it again elsewhere) or :class:`Unsupported`.
        """
        if self.reader.done():
            raise self._ended()
        future: asyncio.Future[SessionResponse] = asyncio.get_running_loop().create_future()
        queued = self._writer.put(
            SessionRequest(
                nonce=nonce, method=method, body=body, timeout_ms=max(1, int(timeout * 1000))
            )
        )
        if not queued:  # retired (half-closed) meanwhile, or its writes failed
            raise Unread if not self._writer.broken else self._ended()
        self._pending[nonce] = future
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            # Tell the miner we gave up (best effort: it frees the miner's slot at once).
            self._writer.put(SessionRequest(nonce=nonce, cancel=True))
            raise rpc_error(
                _S.DEADLINE_EXCEEDED, f"no answer on the session stream within {timeout:.3f} s"
            ) from None
        finally:
            self._pending.pop(nonce, None)
            if not self._pending and self._writer.closed:
                self._call.cancel()  # retired and nothing left to wait for

    def retire(self) -> None:
        """Take no new requests; half-close once what is queued is written, so the miner
        answers what it read and ends the stream with OK. The call is cancelled once no request
        waits on it any more, so a miner that never ends a stream cannot keep it open."""
        self._writer.close()
        if not self._pending:
            self._call.cancel()

    def cancel(self) -> None:
        self._writer.close()
        self._call.cancel()

    async def _read(self) -> None:
        """Hand each answer to the request waiting for its nonce; when the stream is over, fail
        whatever is still waiting (Unread if it ended OK, else the stream's failure)."""
        try:
            async for raw in self._call:
                for reply in SessionResponses.FromString(raw).responses:
                    future = self._pending.get(reply.nonce)
                    if future is not None and not future.done():
                        future.set_result(reply)
                    # an answer to no pending request (withdrawn, or made up) is dropped
        except grpc.aio.AioRpcError as exc:
            self.failure = exc
        except DecodeError:
            self.failure = rpc_error(
                _S.INTERNAL, "the miner sent a message that is not a SessionResponses"
            )
            self._call.cancel()
        except asyncio.CancelledError:
            self.failure = rpc_error(_S.CANCELLED, "the session stream was closed")
        finally:
            self._writer.close()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._ended())

    def _ended(self) -> Exception:
        if self.failure is None:
            return Unread()
        if self.failure.code() is _S.UNIMPLEMENTED:
            return Unsupported()
        return self.failure


def _encode_requests(batch: list[SessionRequest]) -> bytes:
    return SessionRequests(requests=batch).SerializeToString()


def _request_size(request: SessionRequest) -> int:
    return len(request.body) + len(request.method) + 32


class SessionStreams:
    """One session stream per miner endpoint, rotated every ``rotate_s`` seconds."""

    def __init__(self, rotate_s: float = 15.0) -> None:
        self.rotate_s = rotate_s
        self._current: dict[str, SessionStream] = {}
        #: endpoints that answered UNIMPLEMENTED (oldest forgotten first past the bound)
        self._unsupported: OrderedDict[str, None] = OrderedDict()
        self._live: set[SessionStream] = set()  # current and draining: kept until they end

    def supports(self, key: str) -> bool:
        """False once the miner at ``key`` answered UNIMPLEMENTED to a session stream."""
        return key not in self._unsupported

    async def request(
        self,
        key: str,
        channel: grpc.aio.Channel,
        receiver: str,
        method: str,
        body: bytes,
        nonce: int,
        timeout: float,
    ) -> SessionResponse:
        """One request on the endpoint's stream (opened or rotated as needed); a request no
        stream read is sent once more on a fresh one. Raises ``AioRpcError`` or
        :class:`Unsupported` (then use a call; the endpoint is remembered)."""
        deadline = time.monotonic() + timeout
        for _ in range(2):
            stream = self._stream(key, channel, receiver)
            try:
                return await stream.request(method, body, nonce, deadline - time.monotonic())
            except Unread:
                continue
            except Unsupported:
                self._unsupported[key] = None
                if len(self._unsupported) > _MAX_UNSUPPORTED:
                    self._unsupported.popitem(last=False)
                self._current.pop(key, None)
                raise
        raise rpc_error(
            _S.UNAVAILABLE, "the miner ended two session streams without reading this request"
        )

    def forget(self, key: str) -> None:
        """The endpoint's channel is closed (LRU): its stream goes with it."""
        stream = self._current.pop(key, None)
        if stream is not None:
            stream.cancel()

    def close(self) -> None:
        for stream in list(self._live):
            stream.cancel()
        self._current.clear()

    def _stream(self, key: str, channel: grpc.aio.Channel, receiver: str) -> SessionStream:
        stream = self._current.get(key)
        if stream is not None and stream.accepting:
            if time.monotonic() - stream.opened < self.rotate_s:
                return stream
            stream.retire()
        stream = SessionStream(channel, receiver)
        self._current[key] = stream
        self._live.add(stream)
        stream.reader.add_done_callback(lambda _: self._live.discard(stream))
        return stream

"""Session streams on a miner: many unary requests on one mutual-TLS call.

Session mode (:mod:`subnetkit.miner.sessions`) drops the per-request signature, but each request
is still a gRPC call, and on this stack a call's own cost dwarfs the signature's. A session
stream (``subnetkit.session.v1.Session/Open``, docs/protocol.md "Session streams") is one
bidirectional call per validator and miner on which each request is a message: the caller is
taken from the client certificate once, when the stream opens, and every message then goes
through the same pipeline steps as a call (blacklist, size, per-caller limit, a slot by priority,
the handler under a capped deadline) and is answered with the same signed response.

What keeps one validator from holding more than its share here: at most
``Limits.max_session_in_flight`` of its messages run at once per stream (past that the miner
stops reading, and HTTP/2 flow control pushes back on the sender), at most
``Limits.max_sessions_per_caller`` streams per hotkey, and the per-caller slot share of every
synapse, as for calls. A validator whose certificate the miner stops trusting (permit lost, new
certificate) is cut off at its next message, not at its next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

import grpc
from google.protobuf.message import DecodeError

from subnetkit.core.errors import WireError
from subnetkit.miner.base import BoundSynapse
from subnetkit.miner.limits import Limits, refusal
from subnetkit.miner.pipeline import RequestPipeline
from subnetkit.miner.sessions import SessionCallers
from subnetkit.protos.session.v1.session_pb2 import (
    SessionRequest,
    SessionRequests,
    SessionResponse,
    SessionResponses,
)
from subnetkit.wire import protocol
from subnetkit.wire.batch_writer import BatchWriter, stop
from subnetkit.wire.session_stream import MAX_REQUESTS_PER_MESSAGE

log = logging.getLogger(__name__)

_S = grpc.StatusCode


class SessionStreams:
    """The miner's ``Session/Open`` handler: admits a stream, then runs its messages."""

    def __init__(
        self,
        pipeline: RequestPipeline,
        bound: Mapping[str, BoundSynapse],
        sessions: SessionCallers | None,
        limits: Limits,
    ) -> None:
        self.pipeline = pipeline
        self.bound = bound
        self.sessions = sessions
        self.limits = limits
        #: the streams open now (bounded: trusted certificates x max_sessions_per_caller)
        self._sessions: set[_Session] = set()
        self.draining = False
        #: what a session stream carries, for refusals that name it
        self.unary_paths = ", ".join(
            b.spec.path for b in bound.values() if not b.spec.server_streaming
        )

    def drain(self) -> None:
        """The miner is stopping: every stream stops reading, answers what it read and ends
        with OK (its caller's unread requests were never run), so a graceful stop does not
        wait out its grace on streams that would otherwise stay open; new ones are refused."""
        self.draining = True
        for session in list(self._sessions):
            session.drain()

    async def serve(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> None:
        """One session stream, from admission to its last answer."""
        try:
            auth, fingerprint = self._admit(context)
        except WireError as exc:
            self.pipeline.metrics.observe("Session", "unauthenticated", exc.status._name_, 0.0)
            context.set_code(exc.status)
            context.set_details(exc.message)
            return
        session = _Session(self, auth, fingerprint, context)
        self._sessions.add(session)
        try:
            await session.run(requests)
        except WireError as exc:
            context.set_code(exc.status)
            context.set_details(exc.message)
        finally:
            self._sessions.discard(session)

    def _admit(
        self, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> tuple[protocol.RequestAuth, bytes]:
        """The stream's caller (from its client certificate), checked once: version, receiver,
        its share of streams. Returns its auth (nonce 0) and the certificate's fingerprint."""
        if self.draining:
            raise refusal(_S.UNAVAILABLE, "this miner is stopping: try again once it is back")
        if self.sessions is None:
            raise refusal(
                _S.UNAUTHENTICATED,
                "session mode needs mutual TLS, which this miner does not require: sign each "
                "request instead (docs/protocol.md, Session streams)",
            )
        metadata = context.invocation_metadata() or ()
        auth = self.sessions.admit(metadata, context, stream=True)
        protocol.check_receiver(auth.receiver, self.pipeline.signer.ss58)
        fingerprint = self.sessions.peers.fingerprint_of(auth.caller)
        if fingerprint is None:  # removed between the handshake's lookup and now
            raise refusal(_S.UNAUTHENTICATED, f"{auth.caller} is no longer trusted here")
        cap = self.limits.max_sessions_per_caller
        if sum(1 for s in self._sessions if s.auth.caller == auth.caller) >= cap:
            raise refusal(
                _S.RESOURCE_EXHAUSTED,
                f"{auth.caller} has {cap} session streams open here, this miner's cap "
                "(max_sessions_per_caller): send more requests on the ones open",
            )
        return auth, fingerprint

    def count(self) -> int:
        """Session streams open now, all callers."""
        return len(self._sessions)

    def still_trusted(self, caller: str, fingerprint: bytes) -> bool:
        """Whether the certificate the stream was opened with is still the one trusted."""
        assert self.sessions is not None
        return self.sessions.peers.fingerprint_of(caller) == fingerprint


class _Session:
    """One open stream: reads batches of requests while a slot is free, runs each request in
    its own task, and hands each answer to one writer that sends what is ready as a batch."""

    def __init__(
        self,
        streams: SessionStreams,
        auth: protocol.RequestAuth,
        fingerprint: bytes,
        context: grpc.aio.ServicerContext[bytes, bytes],
    ) -> None:
        self.streams = streams
        self.auth = auth
        self.fingerprint = fingerprint
        lim = streams.limits
        self.cap = lim.max_session_in_flight
        self.label = streams.pipeline.metrics.caller_label(auth.caller)
        self.slots = asyncio.Semaphore(self.cap)
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.task: asyncio.Task[None] | None = None  # the handler's, reading the stream
        self.waiting = False  # for the next message (where a drain may cancel the read)
        self.draining = False
        # One batch stays well within what a client accepts in one message (its cap on a
        # response); a larger answer goes alone.
        self.out: BatchWriter[SessionResponse] = BatchWriter(
            context.write, _encode_answers, _answer_size, max_items=self.cap
        )

    async def run(self, requests: AsyncIterator[bytes]) -> None:
        """Until the caller half-closes (every request read is answered, then OK), the stream
        breaks (every task cancelled) or a message breaks the protocol (WireError)."""
        writer = asyncio.ensure_future(self.out.run())
        self.task = asyncio.current_task()
        try:
            await self._read(requests)
            if self.tasks:
                await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        finally:
            for task in self.tasks.values():
                task.cancel()
            # gRPC ends the call when this handler returns, which it refuses to do while a
            # write is in flight: the writer finishes its last one first.
            self.out.close()
            await stop(writer)

    async def _read(self, requests: AsyncIterator[bytes]) -> None:
        """Take each message until the caller half-closes or the miner drains. A drain cancels
        this task only while it waits for the next message, so nothing read goes unanswered."""
        incoming = aiter(requests)
        while not self.draining:
            self.waiting = True
            try:
                raw = await anext(incoming)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if not self.draining or self.task is None:
                    raise
                self.task.uncancel()  # our own drain: end the stream as a half-close would
                return
            finally:
                self.waiting = False
            for message in self._batch(raw):
                await self._take(message)

    def drain(self) -> None:
        """Stop reading (at once if waiting for a message, else after this batch)."""
        self.draining = True
        if self.waiting and self.task is not None:
            self.task.cancel()

    def _batch(self, raw: bytes) -> Sequence[SessionRequest]:
        try:
            batch = SessionRequests.FromString(raw).requests
        except DecodeError:
            raise refusal(
                _S.INVALID_ARGUMENT,
                "a session stream message does not parse as subnetkit.session.v1.SessionRequests",
            ) from None
        if len(batch) > MAX_REQUESTS_PER_MESSAGE:
            raise refusal(
                _S.RESOURCE_EXHAUSTED,
                f"a session stream message holds {len(batch)} requests, over the protocol's "
                f"{MAX_REQUESTS_PER_MESSAGE} per message: send fewer per message",
            )
        return batch

    async def _take(self, message: SessionRequest) -> None:
        """One request read: a cancel, a request to run, or a refusal to answer at once."""
        nonce = message.nonce
        if message.cancel:
            running = self.tasks.get(nonce)
            if running is not None:
                running.cancel()
            return
        if not self.streams.still_trusted(self.auth.caller, self.fingerprint):
            raise refusal(
                _S.UNAUTHENTICATED,
                f"this miner no longer trusts the certificate {self.auth.caller} opened this "
                "session with (validator permit lost, or a new certificate): reconnect",
            )
        # Answers the caller does not read must not pile up: read on only once they drain.
        if len(self.out) >= self.cap:
            await self.out.room(self.cap)
        bound = self.streams.bound.get(message.method)
        if bound is None or bound.spec.server_streaming:
            self.out.put(self._unservable(nonce, message.method, bound))
            return
        if nonce in self.tasks:
            self.out.put(
                SessionResponse(
                    nonce=nonce,
                    code=_S.INVALID_ARGUMENT.value[0],
                    details=f"nonce {nonce} is already in flight on this session: use each once",
                )
            )
            return
        await self.slots.acquire()  # none free: stop reading; flow control holds the sender
        task = asyncio.get_running_loop().create_task(self._serve(bound, message))
        self.tasks[nonce] = task
        task.add_done_callback(lambda _: self._done(nonce))

    def _done(self, nonce: int) -> None:
        self.tasks.pop(nonce, None)
        self.slots.release()

    async def _serve(self, bound: BoundSynapse, message: SessionRequest) -> None:
        auth = self.auth._replace(nonce=message.nonce)
        self.out.put(await self.streams.pipeline.serve_message(bound, message, auth, self.label))

    def _unservable(self, nonce: int, method: str, bound: BoundSynapse | None) -> SessionResponse:
        served = self.streams.unary_paths
        if bound is None:  # the path is the caller's: echo a bounded part of it
            details = f"synapse {method[:128]!r} is not served here; this miner serves: {served}"
        else:
            details = (
                f"{method} streams its response: call it (session mode) rather than send it "
                f"on a session stream, which carries only: {served}"
            )
        return SessionResponse(nonce=nonce, code=_S.UNIMPLEMENTED.value[0], details=details)


def _encode_answers(batch: list[SessionResponse]) -> bytes:
    return SessionResponses(responses=batch).SerializeToString()


def _answer_size(answer: SessionResponse) -> int:
    return len(answer.body) + len(answer.details) + 96

"""Running a synapse's handler (pipeline step 8): on the event loop or in a worker thread, unary
or streamed, under the caller's deadline, its failures mapped to wire errors.

``async def`` handlers run on the loop. Plain ``def`` handlers run in a worker thread of a pool
sized to their slots, so a request never waits unseen in the pool. A thread cannot be cancelled:
when the request ends first, the thread keeps the request's :class:`~subnetkit.miner.leases.Lease`
until it returns, so the scheduler keeps counting it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from subnetkit.core.errors import WireError
from subnetkit.miner.base import BoundSynapse, CallContext
from subnetkit.miner.context import ServingContext
from subnetkit.miner.leases import Lease
from subnetkit.miner.limits import refusal
from subnetkit.wire import protocol

log = logging.getLogger(__name__)

_S = grpc.StatusCode
_T = TypeVar("_T")


def serialize(bound: BoundSynapse, response: object) -> bytes:
    """The handler's response as bytes; a message of the wrong type is the miner's fault."""
    if not isinstance(response, bound.spec.response_cls):
        log.error(
            "%s returned %s, expected %s",
            bound.spec.name,
            type(response).__name__,
            bound.spec.response_cls.__name__,
        )
        raise refusal(_S.INTERNAL, "the miner's handler returned the wrong message type")
    return response.SerializeToString()


class CallerGone(Exception):
    """The caller cancelled or disconnected while the miner was writing to it.

    Counted as CANCELLED, quietly: a caller that leaves is not a failure of the miner, and
    logging it with a traceback would let anyone flood the log by cancelling streams.
    """


def _handler_failed(bound: BoundSynapse, caller: str) -> WireError:
    log.exception("handler %s failed for caller %s", bound.spec.name, caller)
    return refusal(_S.INTERNAL, f"the miner's {bound.spec.name} handler failed")


def _deadline_error(bound: BoundSynapse, budget: float) -> WireError:
    return refusal(
        _S.DEADLINE_EXCEEDED,
        f"{bound.spec.name} did not finish within its budget of {budget:.3f} s (the caller's "
        "deadline, or this miner's cap on it if shorter); the handler was cancelled: allow a "
        "longer timeout or ask for less work",
    )


class HandlerRunner:
    """Runs handlers; owns the worker threads of the plain ``def`` synapses (``threads`` of
    them, none when every synapse is ``async``), from :meth:`start` to :meth:`shutdown`."""

    def __init__(
        self,
        threads: int,
        max_stream_chunks: int = 10_000,
        chunk_caps: Mapping[str, int] | None = None,
    ) -> None:
        self._threads = threads
        self.max_stream_chunks = max_stream_chunks
        #: a synapse's own chunk cap by path (Limits.caps_for), else ``max_stream_chunks``
        self.chunk_caps = chunk_caps or {}
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Create the worker threads' pool (sync handlers get a thread for each of their slots)."""
        if self._threads:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="miner-handler")

    def shutdown(self) -> None:
        """Drop queued thread work; running threads finish on their own (they cannot be stopped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def unary(
        self,
        bound: BoundSynapse,
        request: Message,
        ctx: CallContext,
        lease: Lease,
        budget: float,
        enforce_at: float | None,
    ) -> bytes:
        """Run a unary handler; its response's exact bytes (what the miner signs)."""
        if bound.is_async:
            work = bound.handler(request, ctx)
        else:
            work = self._in_thread(lease, bound.handler, request, ctx)
        response = await self._guard(bound, ctx, budget, enforce_at, work)
        return serialize(bound, response)

    async def stream(
        self,
        bound: BoundSynapse,
        request: Message,
        ctx: CallContext,
        lease: Lease,
        chain: protocol.ChunkChain,
        context: ServingContext,
        budget: float,
        enforce_at: float | None,
    ) -> None:
        """Run a streaming handler, writing each chunk and folding it into ``chain``."""
        work = self._write_chunks(bound, request, ctx, lease, chain, context)
        await self._guard(bound, ctx, budget, enforce_at, work)

    async def _guard(
        self,
        bound: BoundSynapse,
        ctx: CallContext,
        budget: float,
        enforce_at: float | None,
        work: Awaitable[_T],
    ) -> _T:
        """Await the handler's work, timing it out at ``enforce_at`` (monotonic) if given;
        map its failures to wire errors."""
        scope: asyncio.Timeout | None = None
        try:
            if enforce_at is None:
                return await work
            async with asyncio.timeout(enforce_at - time.monotonic()) as scope:
                return await work
        except TimeoutError:
            if scope is not None and scope.expired():
                raise _deadline_error(bound, budget) from None
            raise _handler_failed(bound, ctx.caller) from None
        except (WireError, CallerGone, asyncio.CancelledError):
            raise
        except Exception:
            raise _handler_failed(bound, ctx.caller) from None

    async def _in_thread(self, lease: Lease, fn: Callable[..., _T], *args: object) -> _T:
        """Run ``fn`` in a worker thread. A thread cannot be cancelled: if the request ends
        (deadline, cancellation) while it still runs, it keeps the request's slot until it
        returns, so the scheduler keeps counting it and later requests queue where they are
        seen, ordered and shed, never invisibly in the thread pool."""
        assert self._executor is not None
        work = self._executor.submit(fn, *args)
        try:
            return await asyncio.wrap_future(work)
        finally:
            if not work.done():
                lease.hand_over(work, asyncio.get_running_loop())

    async def _write_chunks(
        self,
        bound: BoundSynapse,
        request: Message,
        ctx: CallContext,
        lease: Lease,
        chain: protocol.ChunkChain,
        context: ServingContext,
    ) -> None:
        """Write each chunk the handler yields, folding it into the signed hash chain."""
        if bound.is_async:
            produced = bound.handler(request, ctx)
            try:
                async for item in produced:
                    await self._write(bound, item, chain, context)
            finally:
                close = getattr(produced, "aclose", None)
                if close is not None:
                    await close()
            return
        assert self._executor is not None
        items: Generator[object, None, None] = bound.handler(request, ctx)
        done = object()
        step: Future[object] | None = None
        try:
            while True:
                step = self._executor.submit(next, items, done)
                item = await asyncio.wrap_future(step)
                if item is done:
                    return
                await self._write(bound, item, chain, context)
        finally:
            if inspect.getgeneratorstate(items) != inspect.GEN_CLOSED:
                self._abandon(bound, items, step, lease)

    async def _write(
        self,
        bound: BoundSynapse,
        item: object,
        chain: protocol.ChunkChain,
        context: ServingContext,
    ) -> None:
        """Write one chunk within the stream's chunk cap; a caller that left is CallerGone."""
        if chain.count >= self.chunk_caps.get(bound.spec.path, self.max_stream_chunks):
            raise refusal(
                _S.RESOURCE_EXHAUSTED,
                f"{bound.spec.name} sent {chain.count} chunks, this miner's cap per stream "
                "(max_stream_chunks): ask for less per request",
            )
        chunk = serialize(bound, item)
        chain.add(chunk)
        try:
            await context.write(chunk)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # gRPC refuses a write only once the call is over: the caller cancelled, its
            # connection dropped, or its deadline passed (the status is already set then).
            log.debug("%s: write failed, the call is over: %r", bound.spec.name, exc)
            raise CallerGone from None

    def _abandon(
        self,
        bound: BoundSynapse,
        items: Generator[object, None, None],
        step: Future[object] | None,
        lease: Lease,
    ) -> None:
        """Close a sync stream's generator that was left mid-way, in a worker thread.

        Its ``finally`` blocks may block, so they must not run on the event loop; and while a
        ``next()`` still runs, the generator cannot be closed at all. Either way the request's
        slot stays taken until the generator is closed.
        """

        def close(_: object = None) -> None:
            try:
                items.close()
            except Exception:
                log.exception("closing an abandoned %s stream failed", bound.spec.name)

        loop = asyncio.get_running_loop()
        if step is not None and not step.done():
            step.add_done_callback(close)  # runs in the worker thread, once next() returns
            lease.hand_over(step, loop)
            return
        assert self._executor is not None  # only sync streams are abandoned, and they ran on it
        try:
            closing = self._executor.submit(close)
        except RuntimeError:  # the pool is shut down: the server is stopping
            return
        lease.hand_over(closing, loop)

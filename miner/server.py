"""``MinerServer``: a miner's signed gRPC endpoint and the pipeline every request goes through.

The pipeline runs cheapest check first, so junk costs as little as possible and nothing is parsed
before it is authenticated:

1. metadata shape (all auth fields present and well formed) and body size
2. freshness of the nonce (``max_age`` back, ``max_skew`` ahead)
3. receiver is this miner's hotkey
4. blacklist hook (may be async)
5. caller's signature over version, method, receiver, SHA-256 of the body bytes, nonce, caller
6. replay cache: each (caller, nonce) once, within a per-caller quota of the bounded pool
7. parse the body; per-caller limit; priority queue with per-synapse concurrency
8. the handler under the caller's deadline (sync handlers in a worker thread, which keeps its
   slot until it returns even when the caller has given up: a thread cannot be cancelled)
9. the signed response (trailing metadata), or a chained-hash trailer for streams

Handlers are registered as raw-bytes gRPC handlers (no (de)serializer), so step 5 hashes the exact
bytes received and the response signature covers the exact bytes sent. Every rejection is a
:class:`~subnetkit.core.errors.WireError` mapped to its gRPC status at one place, ``_reject``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from subnetkit.core.errors import ConfigError, WireError
from subnetkit.core.keys import Signer
from subnetkit.core.lifecycle import Lifecycle
from subnetkit.miner.base import BoundSynapse, CallContext, Miner, bind_synapses
from subnetkit.miner.metrics import UNAUTHENTICATED_CALLER, MinerMetrics
from subnetkit.miner.scheduler import QueueFull, SynapseScheduler
from subnetkit.wire import protocol
from subnetkit.wire.nonce_cache import NonceCache, NonceCacheFull

log = logging.getLogger(__name__)

BlacklistHook = Callable[[str], "str | Awaitable[str | None] | None"]
PriorityHook = Callable[[str], "float | Awaitable[float]"]

_S = grpc.StatusCode
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one miner server. Defaults suit a small CPU miner."""

    max_request_bytes: int = 4 * 1024 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    max_concurrency: int = 64  # handlers running at once, per synapse
    max_queue: int = 1024  # requests waiting for a slot, per synapse
    max_per_caller: int = 512  # one caller's requests queued or running, all synapses
    max_age_s: float = 10.0  # oldest acceptable nonce
    max_skew_s: float = 2.0  # how far ahead of our clock a nonce may be
    nonce_cache_capacity: int = 200_000  # live (caller, nonce) pairs remembered, all callers
    nonce_cache_per_caller: int = 50_000  # one caller's share of them: ~4,000 requests/s sustained
    default_timeout_s: float = 60.0  # handler budget when the caller sets no deadline
    # Threads per plain ``def`` synapse. Such a synapse runs at most this many handlers at once
    # (its max_concurrency is capped to it), so a request never waits unseen in the pool.
    worker_threads: int = 8


def _error(status: grpc.StatusCode, message: str) -> WireError:
    return WireError(message, status=status, code=status.name.lower())


class _Lease:
    """One admitted request's claim: its per-caller count and, once entered, its handler slot.

    Released exactly once. A plain ``def`` handler's thread cannot be cancelled, so when the
    request ends while that thread still runs, :meth:`hand_over` passes the lease to the thread:
    it is released when the thread's work is done, on the event loop's thread.
    """

    __slots__ = ("_counts", "_held", "caller", "entered", "sched")

    def __init__(self, sched: SynapseScheduler, counts: dict[str, int], caller: str) -> None:
        self.sched = sched
        self.caller = caller
        self.entered = False  # holds a scheduler slot
        self._counts = counts
        self._held = True

    def release(self) -> None:
        """Give back the slot and the caller's count, unless a worker thread holds them."""
        if self._held:
            self._held = False
            self._free()

    def hand_over(self, work: Future[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Keep the slot and count until ``work`` (running in a worker thread) completes."""
        if not self._held:
            return
        self._held = False

        def done(_: Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed: server and counters gone
                loop.call_soon_threadsafe(self._free)

        work.add_done_callback(done)

    def _free(self) -> None:
        if self.entered:
            self.sched.release()
        count = self._counts.get(self.caller, 1) - 1
        if count <= 0:
            self._counts.pop(self.caller, None)
        else:
            self._counts[self.caller] = count


class _Router(grpc.GenericRpcHandler):
    """Routes our synapses' paths; any other path gets UNIMPLEMENTED with the list we serve."""

    def __init__(self, handlers: dict[str, grpc.RpcMethodHandler], served: list[str]) -> None:
        self._handlers = handlers
        self._served = ", ".join(served)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = self._handlers.get(handler_call_details.method)
        if handler is not None:
            return handler
        method = handler_call_details.method
        served = self._served

        async def unknown(_body: bytes, context: grpc.aio.ServicerContext) -> bytes:
            await context.abort(
                _S.UNIMPLEMENTED,
                f"synapse {method} is not served here; this miner serves: {served}",
            )
            raise AssertionError("unreachable")  # pragma: no cover

        return grpc.unary_unary_rpc_method_handler(unknown)


class MinerServer(Lifecycle):
    """Serves a :class:`~miner.Miner` over signed gRPC: ``async with MinerServer(...) as s``.

    ``blacklist``/``priority`` override the miner's hooks of the same name. ``metrics_registry``
    receives this server's Prometheus metrics (a fresh registry by default: ``.metrics.registry``).
    Runs inside the caller's event loop; use ``subnetkit.core.lifecycle.run_until_signalled`` for a
    process that stops gracefully on SIGTERM/SIGINT (health NOT_SERVING first, then drain).
    """

    def __init__(
        self,
        miner: Miner,
        signer: Signer,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        blacklist: BlacklistHook | None = None,
        priority: PriorityHook | None = None,
        limits: Limits | None = None,
        metrics_registry: CollectorRegistry | None = None,
        reflection_enabled: bool = True,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__()
        self.miner = miner
        self.signer = signer
        self.host = host
        self.limits = limits or Limits()
        self._requested_port = port
        self._port: int | None = None
        self._bound = bind_synapses(miner)  # fails fast, naming missing handlers
        self._blacklist: BlacklistHook = blacklist or miner.blacklist
        self._priority: PriorityHook = priority or miner.priority
        self._reflection_enabled = reflection_enabled
        self._clock = clock
        self.metrics = MinerMetrics(metrics_registry)
        lim = self.limits
        self.nonce_cache = NonceCache(
            lim.max_age_s + lim.max_skew_s,
            lim.nonce_cache_capacity,
            per_caller=lim.nonce_cache_per_caller,
            clock=clock,
        )
        threads = max(1, lim.worker_threads)
        self._schedulers = {
            path: SynapseScheduler(
                lim.max_concurrency if bound.is_async else min(lim.max_concurrency, threads),
                lim.max_queue,
            )
            for path, bound in self._bound.items()
        }
        # One thread per slot of every plain ``def`` synapse: the pool never queues a request.
        self._threads = sum(
            self._schedulers[path].max_concurrency
            for path, bound in self._bound.items()
            if not bound.is_async
        )
        for path, sched in self._schedulers.items():
            name = self._bound[path].spec.name
            self.metrics.in_flight.labels(name).set_function(lambda s=sched: s.running)
            self.metrics.queue_depth.labels(name).set_function(lambda s=sched: s.queued)
        self._per_caller: dict[str, int] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._server: grpc.aio.Server | None = None
        self._health: Any = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (the OS's choice when constructed with port 0)."""
        if self._port is None:
            raise RuntimeError("MinerServer is not started")
        return self._port

    @property
    def hotkey(self) -> str:
        """The miner's hotkey (SS58): callers must address requests to it, responses carry it."""
        return self.signer.ss58

    @property
    def blacklist(self) -> BlacklistHook:
        """The blacklist hook in force; assign a new one (e.g. once a metagraph is attached)."""
        return self._blacklist

    @blacklist.setter
    def blacklist(self, hook: BlacklistHook) -> None:
        """Swap the hook at runtime; requests admitted from now on use it."""
        self._blacklist = hook

    @property
    def priority(self) -> PriorityHook:
        """The priority hook in force; assign a new one (e.g. caller stake from a metagraph)."""
        return self._priority

    @priority.setter
    def priority(self, hook: PriorityHook) -> None:
        """Swap the hook at runtime; requests queued from now on are ordered by it."""
        self._priority = hook

    async def start(self) -> None:
        """Bind, start serving and report SERVING; a bind failure is a ConfigError, not a crash
        at the first request. Sync handlers get a thread for each of their slots."""
        lim = self.limits
        if self._threads:
            self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="miner-handler")
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", lim.max_request_bytes + 64 * 1024),
                ("grpc.max_send_message_length", lim.max_response_bytes),
                ("grpc.so_reuseport", 0),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
            ]
        )
        service_name = next(iter(self._bound.values())).spec.service if self._bound else ""
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if self._reflection_enabled:
            names = (service_name, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
            reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), server)
        server.add_generic_rpc_handlers(
            (_Router(self._make_handlers(), [b.spec.path for b in self._bound.values()]),)
        )
        address = f"{self.host}:{self._requested_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise ConfigError(f"cannot bind the miner to {address}: {exc}") from None
        if port == 0:
            raise ConfigError(f"cannot bind the miner to {address}: is the port in use?")
        await server.start()
        self._server, self._port = server, port
        serving = health_pb2.HealthCheckResponse.SERVING
        await self._health.set("", serving)
        await self._health.set(service_name, serving)
        await super().start()
        log.info("miner %s serving %s on %s:%d", self.hotkey, service_name, self.host, port)

    async def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, let in-flight requests finish for ``grace`` s, then stop."""
        if self._stopped:
            return
        self._stopped = True
        self.request_stop()
        if self._server is not None:
            if self._health is not None:
                await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Stop with the lifecycle's graceful timeout (what ``async with`` calls on exit)."""
        await self.stop(self.graceful_shutdown_timeout)

    # -- handler registration --------------------------------------------------------------------
    def _make_handlers(self) -> dict[str, grpc.RpcMethodHandler]:
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        for path, bound in self._bound.items():
            fn = functools.partial(self._serve, bound)
            if bound.spec.server_streaming:
                handlers[path] = grpc.unary_stream_rpc_method_handler(fn)
            else:
                handlers[path] = grpc.unary_unary_rpc_method_handler(fn)
        return handlers

    # -- the pipeline ----------------------------------------------------------------------------
    async def _admit(
        self, bound: BoundSynapse, body: bytes, context: grpc.aio.ServicerContext
    ) -> tuple[protocol.RequestAuth, bytes]:
        """Steps 1-5: the request's shape, freshness, receiver, caller and signature."""
        lim = self.limits
        auth = protocol.parse_request_metadata(context.invocation_metadata() or ())
        if len(body) > lim.max_request_bytes:
            raise _error(
                _S.RESOURCE_EXHAUSTED,
                f"request body is {len(body)} bytes, over this miner's limit of "
                f"{lim.max_request_bytes}: send less data per request",
            )
        protocol.check_freshness(auth.nonce, self._clock(), lim.max_age_s, lim.max_skew_s)
        protocol.check_receiver(auth.receiver, self.signer.ss58)
        try:
            reason = self._blacklist(auth.caller)
            if reason is not None and inspect.isawaitable(reason):
                reason = await reason
        except Exception:
            log.exception("blacklist hook failed for %s; refusing the request", auth.caller)
            raise _error(_S.INTERNAL, "the miner's blacklist check failed; try later") from None
        if reason is not None:
            raise _error(_S.PERMISSION_DENIED, f"caller {auth.caller} is blacklisted: {reason}")
        body_hash = protocol.sha256(body)
        protocol.verify_request(auth, bound.spec.path, body_hash)
        return auth, body_hash

    def _check_nonce(self, auth: protocol.RequestAuth) -> None:
        """Step 6, once the caller is authenticated (so its rejections count under its name)."""
        try:
            fresh = self.nonce_cache.check_and_add(auth.caller, auth.nonce)
        except NonceCacheFull as exc:
            raise _error(_S.RESOURCE_EXHAUSTED, str(exc)) from None
        if not fresh:
            raise _error(
                _S.UNAUTHENTICATED,
                f"replayed nonce {auth.nonce} from {auth.caller}: sign every request afresh",
            )

    async def _enter(self, bound: BoundSynapse, lease: _Lease) -> None:
        """Take a handler slot: at once if one is free, else queued by the priority hook."""
        sched = lease.sched
        if not sched.try_acquire():
            try:
                await sched.wait(await self._call_priority(lease.caller))
            except QueueFull as exc:
                raise _error(
                    _S.RESOURCE_EXHAUSTED, f"{bound.spec.name} is saturated: {exc}"
                ) from None
        lease.entered = True

    async def _call_priority(self, caller: str) -> float:
        try:
            value = self._priority(caller)
            if inspect.isawaitable(value):
                value = await value
            return float(value)
        except Exception:
            log.exception("priority hook failed for %s; using priority 0", caller)
            return 0.0

    def _parse(self, bound: BoundSynapse, body: bytes) -> Message:
        try:
            return bound.spec.request_cls.FromString(body)
        except DecodeError as exc:
            raise _error(
                _S.INVALID_ARGUMENT,
                f"request body does not parse as {bound.spec.request_cls.DESCRIPTOR.full_name}: "
                f"{exc}; serialize the synapse's request message",
            ) from None

    def _deadline(self, context: grpc.aio.ServicerContext) -> tuple[float, float, float | None]:
        """(handler budget s, its ``time.monotonic()`` deadline, that deadline again if we must
        enforce it ourselves, else None).

        The budget is what is left of the caller's deadline now, taken once: gRPC's remaining
        time already excludes the time spent admitting the request. When the caller set a
        deadline, gRPC itself cancels the handler task when it passes, so no timer of ours is
        needed (it would cost a timer per request); without one, the server's
        ``default_timeout_s`` is enforced here.
        """
        remaining = context.time_remaining()
        now = time.monotonic()
        if remaining is None:
            budget = self.limits.default_timeout_s
            return budget, now + budget, now + budget
        budget = max(remaining, 0.0)
        return budget, now + budget, None

    @staticmethod
    def _cancel_status(context: grpc.aio.ServicerContext) -> str:
        remaining = context.time_remaining()
        return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"

    def _lease(self, bound: BoundSynapse, caller: str) -> _Lease:
        """Per-caller limit (step 7): count the request against its caller, or shed it."""
        count = self._per_caller.get(caller, 0)
        if count >= self.limits.max_per_caller:
            raise _error(
                _S.RESOURCE_EXHAUSTED,
                f"caller {caller} already has {count} requests here (limit "
                f"{self.limits.max_per_caller}): lower the client's concurrency",
            )
        self._per_caller[caller] = count + 1
        return _Lease(self._schedulers[bound.spec.path], self._per_caller, caller)

    def _serialize(self, bound: BoundSynapse, response: object) -> bytes:
        if not isinstance(response, bound.spec.response_cls):
            log.error(
                "%s returned %s, expected %s",
                bound.spec.name,
                type(response).__name__,
                bound.spec.response_cls.__name__,
            )
            raise _error(_S.INTERNAL, "the miner's handler returned the wrong message type")
        return response.SerializeToString()

    def _handler_failed(self, bound: BoundSynapse, caller: str) -> WireError:
        log.exception("handler %s failed for caller %s", bound.spec.name, caller)
        return _error(_S.INTERNAL, f"the miner's {bound.spec.name} handler failed")

    def _deadline_error(self, bound: BoundSynapse, budget: float) -> WireError:
        return _error(
            _S.DEADLINE_EXCEEDED,
            f"{bound.spec.name} did not finish within the caller's deadline ({budget:.3f} s); "
            "the handler was cancelled: allow a longer timeout or ask for less work",
        )

    async def _reject(self, context: grpc.aio.ServicerContext, exc: WireError) -> NoReturn:
        await context.abort(exc.status, exc.message)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _serve(
        self, bound: BoundSynapse, body: bytes, context: grpc.aio.ServicerContext
    ) -> bytes | None:
        """One request through the whole pipeline; unary returns the body, streams write it."""
        started = time.perf_counter()
        caller, status = UNAUTHENTICATED_CALLER, "OK"
        try:
            auth, body_hash = await self._admit(bound, body, context)
            caller = self.metrics.caller_label(auth.caller)
            self._check_nonce(auth)
            request = self._parse(bound, body)
            budget, deadline, enforce_at = self._deadline(context)
            ctx = CallContext(
                caller=auth.caller,
                caller_crypto=auth.caller_crypto,
                nonce=auth.nonce,
                method=bound.spec.path,
                synapse=bound.spec.name,
                deadline=deadline,
            )
            lease = self._lease(bound, auth.caller)
            try:
                await self._enter(bound, lease)
                if bound.spec.server_streaming:
                    chain: protocol.ChunkChain | None = protocol.ChunkChain(body_hash)
                    work = self._stream(bound, request, ctx, lease, chain, context)
                    await self._guard(bound, ctx, budget, enforce_at, work)
                    out = None
                else:
                    chain = None
                    if bound.is_async:
                        work = bound.handler(request, ctx)
                    else:
                        work = self._in_thread(lease, bound.handler, request, ctx)
                    response = await self._guard(bound, ctx, budget, enforce_at, work)
                    out = self._serialize(bound, response)
            finally:
                lease.release()
            context.set_trailing_metadata(self._signed_trailer(bound, auth, body_hash, out, chain))
            return out
        except WireError as exc:
            status = exc.status.name
            await self._reject(context, exc)
        except asyncio.CancelledError:
            status = self._cancel_status(context)
            raise
        finally:
            self.metrics.observe(bound.spec.name, caller, status, time.perf_counter() - started)

    def _signed_trailer(
        self,
        bound: BoundSynapse,
        auth: protocol.RequestAuth,
        body_hash: bytes,
        out: bytes | None,
        chain: protocol.ChunkChain | None,
    ) -> tuple[tuple[str, str | bytes], ...]:
        """Step 9: the miner's signature over a unary body (``out``) or a stream's ``chain``."""
        if chain is not None:
            message = protocol.stream_message(
                version=auth.version,
                method=bound.spec.path,
                caller=auth.caller,
                request_hash=body_hash,
                nonce=auth.nonce,
                chunks=chain.count,
                chain_hash=chain.digest,
                miner_crypto=self.signer.crypto,
                miner=self.signer.ss58,
            )
            return protocol.response_trailer(self.signer, message, chunks=chain.count)
        message = protocol.response_message(
            version=auth.version,
            method=bound.spec.path,
            caller=auth.caller,
            request_hash=body_hash,
            nonce=auth.nonce,
            response_hash=protocol.sha256(out or b""),
            miner_crypto=self.signer.crypto,
            miner=self.signer.ss58,
        )
        return protocol.response_trailer(self.signer, message)

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
                raise self._deadline_error(bound, budget) from None
            raise self._handler_failed(bound, ctx.caller) from None
        except (WireError, asyncio.CancelledError):
            raise
        except Exception:
            raise self._handler_failed(bound, ctx.caller) from None

    async def _in_thread(self, lease: _Lease, fn: Callable[..., _T], *args: object) -> _T:
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

    async def _stream(
        self,
        bound: BoundSynapse,
        request: Message,
        ctx: CallContext,
        lease: _Lease,
        chain: protocol.ChunkChain,
        context: grpc.aio.ServicerContext,
    ) -> None:
        """Write each chunk the handler yields, folding it into the signed hash chain."""
        if bound.is_async:
            async for item in bound.handler(request, ctx):
                chunk = self._serialize(bound, item)
                chain.add(chunk)
                await context.write(chunk)
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
                chunk = self._serialize(bound, item)
                chain.add(chunk)
                await context.write(chunk)
        finally:
            if inspect.getgeneratorstate(items) != inspect.GEN_CLOSED:
                self._abandon(bound, items, step, lease)

    def _abandon(
        self,
        bound: BoundSynapse,
        items: Generator[object, None, None],
        step: Future[object] | None,
        lease: _Lease,
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
        try:
            closing = self._executor.submit(close)  # type: ignore[union-attr]
        except RuntimeError:  # the pool is shut down: the server is stopping
            return
        lease.hand_over(closing, loop)

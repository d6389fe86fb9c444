"""``MinerServer``: a miner's signed endpoint, from bind to graceful stop.

The server wires the parts together and owns their lifecycle; each part has its own module:
what a request goes through in :mod:`subnetkit.miner.pipeline`, per-caller limits and handler
slots in :mod:`subnetkit.miner.leases`, running handlers (threads, streams) in
:mod:`subnetkit.miner.handlers`, the bounds in :mod:`subnetkit.miner.limits`. Here: binding,
health and reflection, routing each RPC path to the pipeline, and stopping gracefully. Built with
``network=`` the server binds no socket: it attaches to an in-process network and serves the same
pipeline to :class:`~subnetkit.wire.inprocess.InProcessTransport` (load tests, simulations).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.core.lifecycle import Lifecycle
from subnetkit.core.ports import bind_problem
from subnetkit.miner.base import BoundSynapse, Miner, bind_synapses
from subnetkit.miner.context import ServingContext
from subnetkit.miner.handlers import HandlerRunner
from subnetkit.miner.leases import Leases, PriorityHook
from subnetkit.miner.limits import Limits, check_synapse_caps
from subnetkit.miner.metrics import MinerMetrics
from subnetkit.miner.pipeline import BlacklistHook, RequestPipeline
from subnetkit.miner.scheduler import SynapseScheduler
from subnetkit.miner.session_streams import SessionStreams
from subnetkit.miner.sessions import SessionCallers, TrustedPeers, server_credentials
from subnetkit.wire.inprocess import InProcessContext, InProcessNetwork
from subnetkit.wire.nonce_cache import NonceCache
from subnetkit.wire.server_bounds import BoundedHealthServicer
from subnetkit.wire.session_stream import SESSION_METHOD, SESSION_SERVICE
from subnetkit.wire.tls import HotkeyCertificate

__all__ = ["BlacklistHook", "Limits", "MinerServer", "PriorityHook"]

log = logging.getLogger(__name__)


class _Router(grpc.GenericRpcHandler):
    """Routes our synapses' paths; any other path gets UNIMPLEMENTED with the list we serve."""

    def __init__(
        self, handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]], served: list[str]
    ) -> None:
        self._handlers = handlers
        self._served = ", ".join(served)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes]:
        handler = self._handlers.get(handler_call_details.method)
        if handler is not None:
            return handler
        method = handler_call_details.method
        served = self._served

        async def unknown(_body: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"synapse {method} is not served here; this miner serves: {served}",
            )
            raise AssertionError("unreachable")  # pragma: no cover

        return grpc.unary_unary_rpc_method_handler(unknown)


def _endpoint(
    serve: Callable[[BoundSynapse, bytes, ServingContext], Awaitable[bytes | None]],
    bound: BoundSynapse,
) -> Callable[[bytes, ServingContext], Awaitable[bytes | None]]:
    """``serve`` for one synapse as a plain coroutine function. Not a ``functools.partial``:
    gRPC asks ``inspect`` per request whether a handler is a coroutine function, and a partial
    makes that an unwrap and a signature probe each time (measurable on refused requests)."""

    async def endpoint(body: bytes, context: ServingContext) -> bytes | None:
        return await serve(bound, body, context)

    return endpoint


def _by_service(
    handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]],
) -> dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]]:
    """``{"/pkg.Service/Method": h}`` as ``{"pkg.Service": {"Method": h}}``."""
    grouped: dict[str, dict[str, grpc.RpcMethodHandler[bytes, bytes]]] = {}
    for path, handler in handlers.items():
        service, _, method = path.lstrip("/").partition("/")
        grouped.setdefault(service, {})[method] = handler
    return grouped


class MinerServer(Lifecycle):
    """Serves a :class:`~miner.Miner` over signed gRPC: ``async with MinerServer(...) as s``.

    ``blacklist``/``priority`` override the miner's hooks of the same name; ``caller_class``
    names a signed caller's class for metrics and refusal logs (miner/metrics.py).
    ``metrics_registry`` receives this server's Prometheus metrics (a fresh registry by default:
    ``.metrics.registry``). Runs inside the caller's event loop; use
    ``subnetkit.core.lifecycle.run_until_signalled`` for a process that stops gracefully on
    SIGTERM/SIGINT (health NOT_SERVING first, then drain).
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
        network: InProcessNetwork | None = None,
        caller_class: Callable[[str], str] | None = None,
        tls: HotkeyCertificate | None = None,
        client_certificates: TrustedPeers | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        if network is not None:
            host = network.host
        self.miner = miner
        self.signer = signer
        self.host = host
        self.limits = limits or Limits()
        self._requested_port = port
        self._port: int | None = None
        self._bound = bind_synapses(miner)  # fails fast, naming missing handlers
        self._reflection_enabled = reflection_enabled
        if client_certificates is not None and tls is None:
            raise ConfigError("mutual TLS needs the miner's own certificate: pass tls= too")
        if tls is not None and tls.hotkey != signer.ss58:
            raise ConfigError(
                f"the TLS certificate is bound to {tls.hotkey}, not to this miner's hotkey "
                f"{signer.ss58}: issue one with subnetkit.wire.tls.load_or_issue"
            )
        self.tls = tls
        self.client_certificates = client_certificates
        self.metrics = MinerMetrics(metrics_registry, caller_class)
        lim = self.limits
        self.nonce_cache = NonceCache(
            lim.max_age_s + lim.max_skew_s,
            lim.nonce_cache_capacity,
            per_caller=lim.nonce_cache_per_caller,
            clock=clock,
        )
        served = [bound.spec.name for bound in self._bound.values()]
        check_synapse_caps(lim.synapse_caps, served)
        caps = {
            path: lim.caps_for(bound.spec.name, bound.spec.server_streaming)
            for path, bound in self._bound.items()
        }
        threads = max(1, lim.worker_threads)
        self._schedulers: dict[str, SynapseScheduler] = {}
        for path, bound in self._bound.items():
            slots = lim.max_concurrency if bound.is_async else min(lim.max_concurrency, threads)
            self._schedulers[path] = SynapseScheduler(
                slots, lim.max_queue, lim.reserved_slots(slots), lim.slots_per_caller(slots)
            )
        # One thread per slot of every plain ``def`` synapse: the pool never queues a request.
        self._runner = HandlerRunner(
            sum(
                self._schedulers[path].max_concurrency
                for path, bound in self._bound.items()
                if not bound.is_async
            ),
            lim.max_stream_chunks,
            {path: chunks for path, (_, chunks) in caps.items()},
        )
        for path, sched in self._schedulers.items():
            self._export_gauges(self._bound[path].spec.name, sched)
        leases = Leases(self._schedulers, lim.max_per_caller)
        self._per_caller = leases.counts  # the callers with requests queued or running
        self._pipeline = RequestPipeline(
            signer,
            lim,
            blacklist=blacklist or miner.blacklist,
            priority=priority or miner.priority,
            nonce_cache=self.nonce_cache,
            leases=leases,
            runner=self._runner,
            metrics=self.metrics,
            clock=clock,
            sessions=None if client_certificates is None else SessionCallers(client_certificates),
            budget_caps={path: budget for path, (budget, _) in caps.items()},
        )
        self._session_streams = SessionStreams(
            self._pipeline, self._bound, self._pipeline.sessions, lim
        )
        self.metrics.session_streams.set_function(self._session_streams.count)
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
        return self._pipeline.blacklist

    @blacklist.setter
    def blacklist(self, hook: BlacklistHook) -> None:
        """Swap the hook at runtime; requests admitted from now on use it."""
        self._pipeline.blacklist = hook

    @property
    def priority(self) -> PriorityHook:
        """The priority hook in force; assign a new one (e.g. caller stake from a metagraph)."""
        return self._pipeline.priority

    @priority.setter
    def priority(self, hook: PriorityHook) -> None:
        """Swap the hook at runtime; requests queued from now on are ordered by it."""
        self._pipeline.priority = hook

    async def start(self) -> None:
        """Bind, start serving and report SERVING; a bind failure is a ConfigError, not a crash
        at the first request. Sync handlers get a thread for each of their slots."""
        lim = self.limits
        self._runner.start()
        if self.network is not None:
            self._port = self.network.attach(self)
            await super().start()
            return
        server = grpc.aio.server(
            options=lim.server_options(), maximum_concurrent_rpcs=lim.max_concurrent_rpcs
        )
        service_name = next(iter(self._bound.values())).spec.service if self._bound else ""
        self._health = BoundedHealthServicer(lim.max_health_watchers)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if self._reflection_enabled:
            names = (
                service_name,
                SESSION_SERVICE,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            )
            reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), server)
        handlers = self._make_handlers()
        # Registered, not only generic: gRPC finds a registered method without asking every
        # generic handler in turn (health and reflection add theirs first), per request.
        for service, methods in _by_service(handlers).items():
            server.add_registered_method_handlers(service, methods)
        # Always there: a miner without mutual TLS refuses it with a message saying so.
        server.add_registered_method_handlers(
            SESSION_SERVICE,
            {SESSION_METHOD: grpc.stream_stream_rpc_method_handler(self._session_streams.serve)},
        )
        server.add_generic_rpc_handlers(
            (_Router(handlers, [b.spec.path for b in self._bound.values()]),)
        )
        address = f"{self.host}:{self._requested_port}"
        problem = bind_problem(self.host, self._requested_port)
        if problem is not None:  # before gRPC tries: its failure is a C++ log line, no reason
            raise ConfigError(problem)
        try:
            if self.tls is None:
                port = server.add_insecure_port(address)
            else:
                creds = server_credentials(self.tls, self.client_certificates)
                port = server.add_secure_port(address, creds)
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
        if self.network is not None and self._port is not None:
            self.network.detach(self._port)
        if self._server is not None:
            if self._health is not None:
                await self._health.enter_graceful_shutdown()
            self._session_streams.drain()  # else open session streams take the whole grace
            await self._server.stop(grace)
        self._runner.shutdown()

    async def close(self) -> None:
        """Stop with the lifecycle's graceful timeout (what ``async with`` calls on exit)."""
        await self.stop(self.graceful_shutdown_timeout)

    async def handle_in_process(
        self, path: str, body: bytes, context: InProcessContext
    ) -> bytes | None:
        """One request from an in-process transport: the same pipeline as a gRPC request."""
        bound = self._bound.get(path)
        if bound is None:
            served = ", ".join(b.spec.path for b in self._bound.values())
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"synapse {path} is not served here; this miner serves: {served}",
            )
            raise AssertionError("unreachable")  # pragma: no cover
        return await self._pipeline.serve(bound, body, context)

    # -- handler registration --------------------------------------------------------------------
    def _export_gauges(self, name: str, sched: SynapseScheduler) -> None:
        """In-flight and queue-depth gauges that read ``sched`` when scraped (one closure per
        scheduler, so each synapse's gauges read their own)."""
        self.metrics.in_flight.labels(name).set_function(lambda: sched.running)
        self.metrics.queue_depth.labels(name).set_function(lambda: sched.queued)

    def _make_handlers(self) -> dict[str, grpc.RpcMethodHandler[bytes, bytes]]:
        handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {}
        for path, bound in self._bound.items():
            fn = _endpoint(self._pipeline.serve, bound)
            if bound.spec.server_streaming:
                handlers[path] = grpc.unary_stream_rpc_method_handler(fn)
            else:
                handlers[path] = grpc.unary_unary_rpc_method_handler(fn)
        return handlers

"""What every neuron process shares, chain-agnostic: identity, state dir, metrics, readiness.

:class:`NeuronBase` is a :class:`~subnetkit.core.lifecycle.Lifecycle` holding the resolved
:class:`~subnetkit.core.settings.NeuronSettings`, the hotkey that signs for the neuron (loaded from
the wallet unless given), a per-neuron Prometheus :class:`CollectorRegistry` (the global one
raises on the second neuron in a process) served over HTTP when ``metrics.port`` is set, and the
neuron's own state directory ``<state_dir>/<wallet>/<hotkey>/netuid<N>/<role>``. The chain-aware
parts (registration check, metagraph sync, serving on chain) live in ``miner.neuron`` and
``validator.neuron``, which import the chain; this module must not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from subnetkit.core import tracing
from subnetkit.core.errors import ConfigError, NotRegisteredError
from subnetkit.core.keys import Signer
from subnetkit.core.lifecycle import Lifecycle
from subnetkit.core.metrics import ChainStateMetrics, asyncio_tasks_gauge, neuron_info
from subnetkit.core.settings import AxonSettings, NeuronSettings, WalletSettings
from subnetkit.core.state_lock import StateDirLock

log = logging.getLogger(__name__)


def register_command(settings: NeuronSettings) -> str:
    """The command that registers this neuron's hotkey (printed when it is not registered).

    It names the same wallets the neuron loaded (``--wallet-path`` whenever it is not the
    default, else ``subnetkit register`` would look for the keys elsewhere) and the same chain,
    quoted so it can be pasted into a shell as is.
    """
    wallet = settings.wallet
    args = [
        ("--netuid", str(settings.netuid)),
        ("--wallet-name", wallet.name),
        ("--wallet-hotkey", wallet.hotkey),
    ]
    if wallet.path != WalletSettings().path:  # the default, expanded
        args.append(("--wallet-path", str(wallet.path)))
    args.append(("--chain-endpoint", settings.chain.endpoint))
    return "subnetkit register " + " ".join(f"{flag} {shlex.quote(value)}" for flag, value in args)


def check_axon(axon: AxonSettings, role: str) -> None:
    """What a neuron that announces ``axon`` on chain needs: an address peers can dial (never a
    wildcard) and, for a miner requiring client certificates, TLS of its own."""
    if (axon.external_ip or axon.host) in ("0.0.0.0", "::", ""):
        raise ConfigError(
            f"the {role} binds {axon.host!r} but has no external ip: peers cannot reach a "
            "wildcard address; set --external-ip (axon.external_ip) to the address they can"
        )
    if role == "miner" and axon.require_client_tls and not axon.tls:
        raise ConfigError(
            "axon.require_client_tls needs axon.tls: a miner can only require client "
            "certificates over TLS; set axon.tls = true too (docs/operating.md, Mutual TLS)"
        )


def neuron_state_dir(settings: NeuronSettings, role: str, hotkey: str | None = None) -> Path:
    """Where a neuron keeps its durable files; separate per wallet, hotkey, subnet and role, so
    two neurons never share (and clobber) a score file. With ``hotkey`` (an SS58 address, for a
    key not loaded from a wallet): ``<state_dir>/hotkeys/<hotkey>/netuid<N>/<role>``."""
    base = (
        settings.state_dir / settings.wallet.name / settings.wallet.hotkey
        if hotkey is None
        else settings.state_dir / "hotkeys" / hotkey
    )
    return base / f"netuid{settings.netuid}" / role


def write_ready_file(path: Path | str, doc: dict[str, Any]) -> None:
    """Write ``doc`` as JSON atomically: a harness polling for the file never reads half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per scrape, daemon threads: a slow scraper never blocks the next one."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No access log line per scrape (one every 15 s per Prometheus server adds up)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


#: ``health()`` of a neuron: (healthy, a JSON-able document saying why)
HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsEndpoint:
    """One HTTP port per neuron: ``/metrics`` for Prometheus and ``/healthz`` for a supervisor
    or load balancer (200 when healthy, 503 when not, with a JSON body saying why).

    Stoppable, so tests can start many in one process.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        health: HealthCheck | None = None,
    ) -> None:
        self.registry = registry
        self.host = host
        self._want_port = port
        self._health = health or (lambda: (True, {"status": "ok"}))
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("metrics endpoint is not started")
        return int(self._server.server_port)

    def _app(self) -> Callable[..., Any]:
        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            if environ.get("PATH_INFO") in ("/healthz", "/health"):
                try:
                    ok, doc = self._health()
                except Exception as exc:  # a broken check is an unhealthy neuron, not a 500
                    ok, doc = False, {"status": "error", "error": repr(exc)}
                body = json.dumps(doc).encode()
                start_response(
                    "200 OK" if ok else "503 Service Unavailable",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                )
                return [body]
            return metrics_app(environ, start_response)

        return app

    def start(self) -> None:
        try:
            server = make_server(
                self.host,
                self._want_port,
                self._app(),
                server_class=_ThreadingWSGIServer,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {self.host}:{self._want_port}: {exc.strerror}; "
                "pick another --metrics-port (0 picks a free one)"
            ) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="subnetkit-metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class NeuronBase(Lifecycle):
    """Settings, hotkey, state dir and metrics endpoint of one neuron (see module docstring).

    Subclasses set ``role``, put their own start-up in :meth:`start_on_chain` and call
    ``await super().close()`` last in their ``close``.
    """

    role: ClassVar[str] = "neuron"

    def __init__(
        self,
        settings: NeuronSettings,
        *,
        signer: Signer | None = None,
        registry: CollectorRegistry | None = None,
        state_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.signer = signer if signer is not None else load_signer(settings)
        self.registry = registry if registry is not None else CollectorRegistry()
        if state_dir is None:
            # A key given directly (harnesses, tests) has no wallet names of its own: its
            # directory is named by the key, so two such neurons never share one.
            by_key = None if signer is None else self.signer.ss58
            state_dir = neuron_state_dir(settings, self.role, by_key)
        self.state_dir = state_dir
        self.metrics_endpoint: MetricsEndpoint | None = None
        self._state_lock = StateDirLock(self.state_dir)
        self._up_since: float | None = None
        neuron_info(self.registry, self.role, settings.netuid)
        self.chain_metrics = ChainStateMetrics(self.registry, self.chain_view)

    def chain_view(self) -> tuple[Any, int | None, int]:
        """(latest metagraph, own uid, head block seen) for the chain-state gauges; the roles
        that follow the chain (``sync`` attribute, a ``chain.sync.MetagraphSync``) override
        nothing: this reads ``self.sync`` and ``self.uid`` when they exist."""
        sync = getattr(self, "sync", None)
        uid = getattr(self, "uid", None)
        if sync is None:
            return None, uid, 0
        try:
            metagraph = sync.metagraph
        except RuntimeError:  # no refresh yet
            metagraph = None
        return metagraph, uid, int(sync.head)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """What ``/healthz`` answers: healthy unless stopping or failed. Roles add their own
        liveness (a validator: rounds keep coming)."""
        doc: dict[str, Any] = {
            "role": self.role,
            "hotkey": self.hotkey,
            "uid": getattr(self, "uid", None),
        }
        if self.fatal_error is not None:
            return False, {**doc, "status": "failed", "error": repr(self.fatal_error)}
        if self.stopping:
            return False, {**doc, "status": "stopping"}
        return True, {**doc, "status": "ok"}

    @property
    def hotkey(self) -> str:
        return self.signer.ss58

    @property
    def netuid(self) -> int:
        return self.settings.netuid

    async def start(self) -> None:
        # First of all: a second neuron on this directory stops here, naming the first.
        self._state_lock.acquire({"role": self.role, "hotkey": self.hotkey})
        try:
            if self.settings.tracing.enabled:  # before any gRPC server or channel is made
                if not tracing.available():
                    raise ConfigError(
                        "tracing.enabled needs the otel extra: pip install 'subnetkit[otel]'"
                    )
                tracing.setup(f"subnetkit-{self.role}")
            asyncio_tasks_gauge(self.registry, asyncio.get_running_loop())
            metrics = self.settings.metrics
            if metrics.port is not None:
                endpoint = MetricsEndpoint(self.registry, metrics.host, metrics.port, self.health)
                endpoint.start()
                self.metrics_endpoint = endpoint
            await super().start()
        except BaseException:
            self._state_lock.release()
            raise
        try:
            await self.start_on_chain()
        except BaseException:
            await self.close()  # a half-started neuron leaves nothing running
            raise
        self._up_since = time.monotonic()

    async def start_on_chain(self) -> None:
        """The role's own start-up, run once the base is up (a failure closes the neuron)."""

    async def registered_uid(self, chain: Any) -> int:
        """This hotkey's uid on the neuron's subnet (``chain`` is a ``chain.client.ChainClient``).

        Raises :class:`NotRegisteredError` naming the command that registers it.
        """
        chain.connect()
        uid = await chain.uid_for_hotkey(self.netuid, self.hotkey)
        if uid is None:
            raise NotRegisteredError(
                f"hotkey {self.hotkey} is not registered on subnet {self.netuid}; "
                f"register it with: {register_command(self.settings)}"
            )
        return int(uid)

    async def close(self) -> None:
        if self._up_since is not None:  # a failed start says why in one line, nothing more
            log.info(
                "%s %s stopped after %.0f s",
                self.role,
                self.hotkey,
                time.monotonic() - self._up_since,
            )
            self._up_since = None
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
            self.metrics_endpoint = None
        self._state_lock.release()

    def spawn_until_stopped(
        self, coro: Coroutine[Any, Any, None], *, name: str
    ) -> asyncio.Task[None]:
        """Run a never-ending service loop (block following, ...) until the neuron stops.

        Plain :meth:`spawn` would make shutdown wait its whole grace period for a loop that
        never returns; this cancels the loop as soon as a stop is requested.
        """

        async def until_stopped() -> None:
            work = asyncio.ensure_future(coro)
            stop = asyncio.ensure_future(self.wait_stopped())
            try:
                await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                if not work.done():
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
            if not work.cancelled():
                work.result()

        return self.spawn(until_stopped(), name=name)

    def ready_info(self) -> dict[str, Any]:
        """What ``--ready-file`` receives once the neuron is up."""
        endpoint = self.metrics_endpoint
        return {
            "pid": os.getpid(),
            "hotkey": self.hotkey,
            "port": None,
            "metrics_port": endpoint.port if endpoint is not None else None,
        }


def load_signer(settings: NeuronSettings) -> Signer:
    """The neuron's hotkey from its wallet (btcli layout under ``wallet.path``)."""
    from subnetkit.core.wallet import load_hotkey

    wallet = settings.wallet
    return load_hotkey(wallet.name, wallet.hotkey, path=wallet.path)


__all__ = [
    "MetricsEndpoint",
    "NeuronBase",
    "check_axon",
    "load_signer",
    "neuron_state_dir",
    "register_command",
    "write_ready_file",
]

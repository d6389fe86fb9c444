"""``run_localnet``: a whole network on one machine, as separate processes, from one call.

The order is the one an operator follows on a real network, only automated: start a dev chain
(its own process, SQLite under the data dir, fast blocks), create the subnet and register, fund
and stake the neurons (:mod:`~subnetkit.localnet.provision`), start each miner and validator as
its own ``subnetkit miner|validator run`` process against that chain, wait until all of them
serve, then follow the chain's block stream and report every epoch of the subnet.

Everything the run creates is under one data dir (a temp dir unless given): ``chain/`` (the
SQLite chain), ``wallets/`` (one dev wallet per neuron), ``state/<name>/`` (neuron state),
``logs/<name>.log`` (each process's stderr) and ``run/`` (ready files and ``pids.json``). A
failure keeps the dir so the logs can be read; a clean run in a temp dir removes it.

Stopping (``--epochs`` reached, Ctrl-C, SIGTERM, or a child dying) always goes through
:meth:`Supervisor.stop`: neurons first, the chain last, SIGKILL after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subnetkit.localnet.naming import plan_neurons, subnet_variants
from subnetkit.localnet.provision import Network, NeuronKeys, provision
from subnetkit.localnet.report import EpochTracker
from subnetkit.localnet.supervisor import Child, LocalnetError, LocalnetInterrupted, Supervisor

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient

log = logging.getLogger(__name__)

CHAIN = "chain"
#: epochs every few seconds at the default 250 ms blocks (tempo + 1 blocks per epoch)
DEFAULT_TEMPO = 20
DEFAULT_BLOCK_TIME = 0.25
#: the dev chain's weights_rate_limit (blocks between two weight submissions of one validator)
WEIGHTS_RATE_LIMIT_DEV = 5
#: the devices a neuron accepts (the rule of ``NeuronSettings.device``)
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
#: chain events that mean a validator submitted weights
WEIGHT_EVENTS = ("WeightsCommitted", "WeightsSet")
#: epochs to wait for every validator's first weights before counting anyway
MAX_WARMUP_EPOCHS = 5
#: ``--tls``: miners require client certificates; validators serve theirs on a free loopback
#: port, announce it, and use session mode with those miners
MINER_TLS_SETS = ("axon.tls=true", "axon.require_client_tls=true")
VALIDATOR_TLS_SETS = (
    "axon.host=127.0.0.1",
    "axon.port=0",
    "axon.tls=true",
    "validator.session=true",
)


@dataclass(frozen=True)
class LocalnetConfig:
    """What ``subnetkit localnet up`` was asked for."""

    subnet: str = "embedding"
    miners: int = 3
    validators: int = 2
    epochs: int | None = None
    data_dir: Path | None = None
    tempo: int = DEFAULT_TEMPO
    block_time: float = DEFAULT_BLOCK_TIME
    #: every neuron's torch device; ``auto`` lets each pick cuda when it sees one, else cpu
    device: str = "auto"
    #: None keeps the chain default (on)
    commit_reveal: bool | None = None
    chain_ready_timeout: float = 60.0
    neuron_ready_timeout: float = 180.0
    grace: float = 10.0
    #: extra ``--set section.key=value`` for every validator / miner
    validator_sets: tuple[str, ...] = ()
    miner_sets: tuple[str, ...] = ()
    #: None keeps the dev chain's epoch schedule; "dynamic" or "legacy" (docs/epoch.md §3)
    epoch_schedule: str | None = None
    #: payout mechanisms to turn on: any of root, delegation, childkeys (docs/epoch.md §10)
    mechanisms: tuple[str, ...] = ()
    #: miners require mutual TLS, validators present hotkey-bound certificates and use session
    #: mode (docs/operating.md, "Mutual TLS and session mode")
    tls: bool = False

    def genesis_flags(self) -> tuple[str, ...]:
        flags = [f"--{name}" for name in self.mechanisms]
        if self.epoch_schedule is not None:
            flags += ["--epoch-schedule", self.epoch_schedule]
        return tuple(flags)

    def check(self) -> None:
        from subnetkit.core.errors import ConfigError

        if self.miners < 0 or self.validators < 0:
            raise ConfigError("--miners and --validators must be 0 or more")
        if self.miners + self.validators > 64:
            raise ConfigError("at most 64 neurons on one machine: lower --miners/--validators")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError("--epochs must be at least 1 (leave it out to run until Ctrl-C)")
        if not 1 <= self.tempo <= 50_400:
            raise ConfigError(f"--tempo {self.tempo} is outside 1..50400 blocks")
        if self.epoch_schedule not in (None, "dynamic", "legacy"):
            raise ConfigError(f"--epoch-schedule {self.epoch_schedule!r}: use dynamic or legacy")
        unknown = set(self.mechanisms) - {"root", "delegation", "childkeys"}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ConfigError(f"unknown mechanism(s) {names}: use root, delegation, childkeys")
        if not DEVICE_PATTERN.match(self.device):
            # checked here, not by every child after the chain is up: one line, nothing started
            raise ConfigError(f"--device {self.device!r}: use auto, cpu, mps, cuda or cuda:N")


@dataclass
class Events:
    """Hooks for progress and per-epoch display (the CLI draws; tests may listen)."""

    progress: Callable[[str], None] = lambda message: None
    epoch: Callable[[EpochTracker], None] = lambda tracker: None
    started: Callable[[EpochTracker], None] = lambda tracker: None


def cli_command() -> list[str]:
    """How to run ``subnetkit``: the console script beside this interpreter, else ``-c``."""
    script = Path(sys.executable).parent / "subnetkit"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from subnetkit.cli import main; sys.exit(main())"]


def child_pythonpath() -> str:
    """The working directory first, then any inherited PYTHONPATH: a subnet package next to
    where ``localnet up`` runs (``--subnet my_subnet:SUBNET``) imports in every neuron, as
    ``python -m`` would find it."""
    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join(p for p in (os.getcwd(), inherited) if p)


def _block_time_arg(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def chain_argv(data_dir: Path, block_time: float, genesis_flags: tuple[str, ...] = ()) -> list[str]:
    """``subnetkit chain start --dev ...``; ``genesis_flags`` are its genesis options
    (``--epoch-schedule dynamic``, ``--root``, ``--delegation``, ``--childkeys``)."""
    return [
        *cli_command(),
        "chain",
        "start",
        "--dev",
        "--port",
        "0",
        "--data-dir",
        str(data_dir / "chain"),
        "--block-time",
        _block_time_arg(block_time),
        *genesis_flags,
    ]


def neuron_argv(
    cfg: LocalnetConfig, net: Network, keys: NeuronKeys, chain_address: str, data_dir: Path
) -> list[str]:
    """``subnetkit miner|validator run ...`` for one neuron of the network."""
    argv = [
        *cli_command(),
        keys.plan.role,
        "run",
        "--subnet",
        cfg.subnet,
        "--netuid",
        str(net.netuid),
        "--wallet-name",
        keys.name,
        "--wallet-hotkey",
        "default",
        "--wallet-path",
        str(net.wallet_path),
        "--chain-endpoint",
        chain_address,
        "--state-dir",
        str(data_dir / "state" / keys.name),
        "--device",
        cfg.device,
    ]
    if keys.plan.role == "miner":
        argv += ["--host", "127.0.0.1", "--port", "0"]
        if keys.plan.variant:
            argv += ["--variant", keys.plan.variant]
        tls = MINER_TLS_SETS if cfg.tls else ()
        sets = (*tls, *cfg.miner_sets)
    else:
        # weights often enough that every epoch sees fresh ones (the default 100 blocks is
        # several dev epochs); a --validator-set of the same key comes later and wins
        interval = max(WEIGHTS_RATE_LIMIT_DEV + 1, cfg.tempo // 2)
        tls = VALIDATOR_TLS_SETS if cfg.tls else ()
        sets = (f"validator.weights_interval_blocks={interval}", *tls, *cfg.validator_sets)
    for item in sets:
        argv += ["--set", item]
    return argv


def _prepare_data_dir(given: Path | None) -> tuple[Path, bool]:
    """The data dir to use and whether it is ours to delete afterwards."""
    if given is None:
        return Path(tempfile.mkdtemp(prefix="subnetkit-localnet-")), True
    path = given.expanduser().resolve()
    if path.exists() and any(path.iterdir()):
        raise LocalnetError(
            f"data dir {path} is not empty (a previous local network?): remove it or give "
            "another --data-dir"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path, False


@dataclass
class Localnet:
    """One run of a local network; :meth:`run` does it all and returns the summary."""

    cfg: LocalnetConfig
    events: Events = field(default_factory=Events)
    data_dir: Path = field(init=False)
    supervisor: Supervisor = field(init=False)
    tracker: EpochTracker | None = field(init=False, default=None)
    chain_address: str = field(init=False, default="")
    _owned_dir: bool = field(init=False, default=False)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    stop_reason: str | None = field(init=False, default=None)
    variants: tuple[str, ...] = field(init=False, default=())

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop at the next await (safe from a signal handler)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    async def run(self) -> dict[str, Any]:
        """Run until ``cfg.epochs`` epochs were counted or :meth:`request_stop`; returns the
        summary (``interrupted`` true when stopped early). Raises :class:`LocalnetError` (or a
        typed chain/config error) when something fails; no child survives either way."""
        self.cfg.check()
        if os.getcwd() not in sys.path:  # as child_pythonpath() does for the neurons
            sys.path.insert(0, os.getcwd())
        self.variants = subnet_variants(self.cfg.subnet)  # an unknown subnet fails here, early
        self.data_dir, self._owned_dir = _prepare_data_dir(self.cfg.data_dir)
        self.supervisor = Supervisor(self.data_dir, grace=self.cfg.grace)
        failed = True
        try:
            body = asyncio.ensure_future(self._body())
            watch = asyncio.ensure_future(self.supervisor.watch())
            stop = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait({body, watch, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (body, watch, stop):
                    task.cancel()
                for task in (watch, stop):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if watch.done() and not watch.cancelled() and watch.exception() is not None:
                raise watch.exception()  # type: ignore[misc]
            if body.done() and not body.cancelled():
                summary = body.result()  # raises the body's error, if any
            else:
                with contextlib.suppress(asyncio.CancelledError):
                    await body
                if self.tracker is None:
                    raise LocalnetInterrupted(
                        f"{self.stop_reason or 'stopped'} before the network was up; "
                        "everything started so far was stopped"
                    )
                summary = self.tracker.summary(interrupted=True)
            failed = False
            return summary
        finally:
            self.events.progress("stopping: neurons first, then the chain")
            await self.supervisor.stop(names_last=(CHAIN,))
            if failed:
                self.events.progress(f"logs kept in {self.data_dir / 'logs'}")
            elif self._owned_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    async def _body(self) -> dict[str, Any]:
        from subnetkit.chain.client import ChainClient

        cfg = self.cfg
        chain = await self.supervisor.spawn(
            CHAIN, chain_argv(self.data_dir, cfg.block_time, cfg.genesis_flags())
        )
        ready = await self.supervisor.wait_ready(chain, cfg.chain_ready_timeout)
        self.chain_address = f"127.0.0.1:{int(ready['port'])}"
        self.events.progress(f"chain up at {self.chain_address} (pid {chain.pid})")
        async with ChainClient(self.chain_address, timeout=30.0) as client:
            plans = plan_neurons(cfg.miners, cfg.validators, self.variants)
            net = await provision(
                client,
                plans,
                self.data_dir / "wallets",
                tempo=cfg.tempo,
                commit_reveal=cfg.commit_reveal,
            )
        # The client is closed before forking the neurons: a fork while its gRPC threads are
        # busy makes gRPC print a warning per child (the children exec at once; no harm done).
        self.events.progress(
            f"subnet {net.netuid} created (tempo {cfg.tempo}, commit-reveal "
            f"{'on' if net.commit_reveal else 'off'}); {len(net.neurons)} neuron(s) "
            "registered, validators staked"
        )
        # Miners first: a validator that starts while a miner is not yet serving would leave it
        # out of its first weights, and in a short run that first commit is what gets paid.
        for role in ("miner", "validator"):
            children = await self._start_neurons(net, role)
            if children:
                self.events.progress(f"waiting for {len(children)} {role}(s) to serve")
                await self.supervisor.wait_all_ready(children, cfg.neuron_ready_timeout)
                self._check_ready_hotkeys(net, children)
        async with ChainClient(self.chain_address, timeout=30.0) as client:
            tracker = EpochTracker(net, cfg.subnet, cfg.epochs)
            tracker.block = tracker.first_block = int((await client.head()).number)
            await tracker.refresh(client, counted=False)
            self.tracker = tracker
            self.events.started(tracker)
            await self._follow_epochs(client, tracker)
            return tracker.summary()

    async def _start_neurons(self, net: Network, role: str) -> list[Child]:
        env = {"PYTHONPATH": child_pythonpath()}
        children = []
        for keys in (k for k in net.neurons if k.plan.role == role):
            argv = neuron_argv(self.cfg, net, keys, self.chain_address, self.data_dir)
            children.append(await self.supervisor.spawn(keys.name, argv, env=env))
        return children

    @staticmethod
    def _check_ready_hotkeys(net: Network, children: list[Child]) -> None:
        expected = {k.name: k.hotkey.ss58 for k in net.neurons}
        for child in children:
            got = (child.ready or {}).get("hotkey")
            if got is not None and got != expected[child.name]:
                raise LocalnetError(
                    f"{child.name} serves hotkey {got}, expected {expected[child.name]}: it "
                    "loaded the wrong wallet"
                )

    async def _follow_epochs(self, client: ChainClient, tracker: EpochTracker) -> None:
        """Follow the block stream: warm up until every validator has submitted weights, then
        count the subnet's epochs, refreshing the rows after each.

        Why wait for weights: an epoch before a validator's first weights pays no miner, so it
        says nothing about the subnet. Counting from the epoch after them makes ``--epochs N``
        mean the same on a fast or a slow machine: with commit-reveal off, counted epoch 1
        already pays on those weights; with it on, the commit is revealed after counted epoch
        1 and paid from counted epoch 2.
        """
        netuid = tracker.network.netuid
        pending = {k.uid for k in tracker.network.neurons if k.plan.role == "validator"}
        warmup_epochs = 0
        if not pending:
            tracker.start_counting()
        else:
            self.events.progress("warming up until every validator has submitted weights")
        async for block in client.stream_blocks(from_block=tracker.block + 1):
            tracker.block = int(block.header.number)
            for ev in block.events:
                data = json.loads(ev.data_json)
                if data.get("netuid") != netuid:
                    continue
                if ev.name in WEIGHT_EVENTS and tracker.warming_up:
                    pending.discard(int(data.get("uid", -1)))
                    if not pending:
                        await self._start_counting(client, tracker, "validators' weights are in")
                elif ev.name == "EpochRun" and tracker.warming_up:
                    warmup_epochs += 1
                    await tracker.refresh(client, counted=False)
                    if warmup_epochs >= MAX_WARMUP_EPOCHS:
                        names = ", ".join(k.name for k in tracker.network.by_uid_list(pending))
                        await self._start_counting(
                            client, tracker, f"no weights from {names} after {warmup_epochs} epochs"
                        )
                elif ev.name == "EpochRun":
                    tracker.epochs += 1
                    await tracker.refresh(client, counted=True)
                    self.events.epoch(tracker)
            if tracker.target_epochs is not None and tracker.epochs >= tracker.target_epochs:
                return

    async def _start_counting(self, client: ChainClient, tracker: EpochTracker, why: str) -> None:
        await tracker.refresh(client, counted=False)
        tracker.start_counting()
        self.events.progress(f"{why} (block {tracker.block}): counting epochs from the next one")


def install_stop_signals(net: Localnet) -> Callable[[], None]:
    """SIGINT/SIGTERM ask ``net`` to stop (a second one kills every child at once). Returns a
    function that removes the handlers."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        supervisor = getattr(net, "supervisor", None)
        if net.stop_reason is not None and supervisor is not None:
            supervisor.kill_all_now()
            return
        net.request_stop(f"{sig.name} received")

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove

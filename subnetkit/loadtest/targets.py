"""The miners under load: a swarm the harness starts itself, or miners that already run.

* ``inprocess``: N ``MinerServer``s of the subnet's own ``Miner`` class in this process, on an
  :class:`~subnetkit.wire.inprocess.InProcessNetwork`, reached through the in-process transport
  with the full protocol (signatures, replay cache, limits: nothing skipped). The harness and
  the miners then share this process's CPU, which the summary says.
* ``processes``: the N miners split over worker processes (one per core by default), each
  serving gRPC on 127.0.0.1 with fresh keys, reached over loopback.
* ``ray``: the N miners split over miner-host actors on a Ray cluster, each serving gRPC on
  its node's address, with a load-generator actor beside each host (``generate``); see
  :mod:`subnetkit.raybackend.swarm`.
* ``--target HOTKEY@HOST:PORT``: existing miners, over gRPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.core.subnet_spec import build_component, resolve_subnet
from subnetkit.validator.client import Target
from subnetkit.wire.inprocess import InProcessNetwork, InProcessTransport
from subnetkit.wire.transport import Transport

_TARGET = re.compile(r"^(?P<hotkey>[^@\s]+)@(?P<host>\[[0-9a-fA-F:.]+\]|[^:\s]+):(?P<port>\d+)$")
_START_TIMEOUT_S = 120.0


@dataclass
class TargetSet:
    """Who to load, how to reach them, and how to let them go."""

    backend: str  # inprocess | processes | ray | remote
    targets: list[Target]
    transport: Transport | None = None  # None: gRPC
    miners_in_harness: bool = False  # their CPU counts in the harness's own
    _close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: runs the load on generators of the backend's own, (job, plan) -> merged figures (see
    #: :func:`subnetkit.loadtest.workers.merge_reports`); None: this process or --workers
    generate: Callable[[dict[str, Any], Any], Awaitable[dict[str, Any]]] | None = None
    #: what the summary adds about where the miners ran (the ray backend's ``ray`` key)
    details: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        for close in reversed(self._close):
            with contextlib.suppress(Exception):
                await close()


def parse_target(text: str) -> Target:
    """``HOTKEY@HOST:PORT`` (IPv6 as ``[::1]``) -> Target; ConfigError says the format."""
    match = _TARGET.match(text.strip())
    if match is None:
        raise ConfigError(f"--target {text!r} is not HOTKEY@HOST:PORT (e.g. 5F...@127.0.0.1:8091)")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise ConfigError(f"--target {text!r}: the port must be 1-65535")
    return Target(match["hotkey"], match["host"].strip("[]"), port)


def split_subnet(text: str) -> tuple[str, str | None]:
    """``echo`` or ``embedding:noisy`` -> (subnet, variant); a module path keeps its colon
    only when the part after it is not a plain variant name."""
    name, _, variant = text.rpartition(":")
    if name and re.fullmatch(r"[a-z][a-z0-9_-]*", variant):
        return name, variant
    return text, None


def build_miner(subnet: str, variant: str | None) -> object:
    """The subnet's own Miner for ``variant`` (checked against the subnet's variants)."""
    spec = resolve_subnet(subnet, role="miner")
    return build_component(spec.class_for("miner"), None, spec.pick_variant(variant))


async def inprocess_swarm(subnet: str, variant: str | None, count: int) -> TargetSet:
    network = InProcessNetwork()
    servers = []
    from subnetkit.miner import MinerServer

    for _ in range(count):
        miner = build_miner(subnet, variant)
        servers.append(MinerServer(miner, Signer.generate(), network=network))  # type: ignore[arg-type]
    await asyncio.gather(*(s.start() for s in servers))

    async def close() -> None:
        await asyncio.gather(*(s.stop(0) for s in servers), return_exceptions=True)

    targets = [Target(s.hotkey, s.host, s.port) for s in servers]
    return TargetSet("inprocess", targets, InProcessTransport(network), True, [close])


async def process_swarm(
    subnet: str, variant: str | None, count: int, processes: int | None = None
) -> TargetSet:
    """Start ``count`` miners over ``processes`` workers (default: one per core, at most
    ``count``); each prints its miners' hotkeys and ports once serving, and stops when its
    stdin closes (so a harness that dies takes its swarm with it)."""
    procs = max(1, min(count, processes or os.cpu_count() or 1))
    shares = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    workers: list[asyncio.subprocess.Process] = []
    targets: list[Target] = []
    result = TargetSet("processes", targets)

    async def close() -> None:
        for proc in workers:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in workers:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    result._close.append(close)
    try:
        for share in shares:
            argv = [sys.executable, "-m", "subnetkit.loadtest.swarm_host", subnet, variant or ""]
            proc = await asyncio.create_subprocess_exec(
                *argv, str(share), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
            workers.append(proc)
        for proc in workers:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), _START_TIMEOUT_S)
            if not line:
                raise ConfigError(
                    f"a swarm worker exited before serving (exit {await proc.wait()}); run "
                    f"'{sys.executable} -m subnetkit.loadtest.swarm_host {subnet} "
                    f"{variant or ''} 1' to see why"
                )
            for hotkey, port in json.loads(line)["miners"]:
                targets.append(Target(hotkey, "127.0.0.1", int(port)))
    except BaseException:
        await result.close()
        raise
    return result


async def remote_targets(specs: list[str]) -> TargetSet:
    return TargetSet("remote", [parse_target(s) for s in specs])


__all__ = [
    "TargetSet",
    "build_miner",
    "inprocess_swarm",
    "parse_target",
    "process_swarm",
    "remote_targets",
    "split_subnet",
]

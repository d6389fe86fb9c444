"""Where a simulation's miners run: in this process, or on a Ray cluster's miner hosts.

Either way the validators get the same thing: a :class:`Miners` with every miner's target in uid
order (offline ones included, at an address where nobody answers), the transport to reach them
(the in-process one, or None for gRPC), and how to stop them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from subnetkit.core.subnet_spec import resolve_subnet
from subnetkit.miner import MinerServer
from subnetkit.simulate.behaviours import build_behaviour_miner
from subnetkit.validator.client import Target
from subnetkit.wire.inprocess import IN_PROCESS_HOST, InProcessNetwork, InProcessTransport

if TYPE_CHECKING:
    from subnetkit.simulate.runner import Neuron, SimulationOptions


@dataclass
class Miners:
    """The simulation's miners as validators reach them, by uid order, and how to stop them."""

    targets: list[Target]
    transport: InProcessTransport | None  # None: gRPC (the ray backend)
    stop: Callable[[], Awaitable[None]]
    details: dict[str, Any]


async def inprocess_miners(
    neurons: list[Neuron], options: SimulationOptions, method: Any, settings: Any, rng: Any
) -> Miners:
    """Every miner behind a MinerServer on one in-process network (offline ones unserved)."""
    spec = resolve_subnet(options.subnet, role="validator")
    network = InProcessNetwork()
    servers: list[MinerServer] = []
    targets: list[Target] = []
    for n in (n for n in neurons if n.role == "miner"):
        miner = build_behaviour_miner(
            spec,
            n.kind,
            method.name,
            method.response_cls,
            settings=settings,
            timeout=settings.validator.timeout,
            slow_fraction=options.slow_fraction,
            rng=rng,
        )
        if n.kind == "offline":
            targets.append(Target(n.hotkey.ss58, IN_PROCESS_HOST, 0))  # nobody answers there
            continue
        server = MinerServer(miner, n.hotkey, network=network)
        servers.append(server)
        targets.append(Target(n.hotkey.ss58, server.host, 0))
    await asyncio.gather(*(s.start() for s in servers))
    by_hotkey = {s.hotkey: s.port for s in servers}
    targets = [Target(t.hotkey, t.host, by_hotkey.get(t.hotkey, 0)) for t in targets]

    async def stop() -> None:
        with contextlib.suppress(Exception):
            await asyncio.gather(*(s.stop(0) for s in servers))

    return Miners(targets, InProcessTransport(network, trusted=options.trusted), stop, {})


async def ray_miners(
    neurons: list[Neuron],
    options: SimulationOptions,
    method: Any,
    overrides: dict[str, Any],
    pool: Any,
) -> Miners:
    """The miners served by a RayMinerPool's hosts (see subnetkit.raybackend.simulation); the
    pool is closed by whoever opened it."""
    base_job = {
        "subnet": options.subnet,
        "method": method.path,
        "overrides": overrides,
        "timeout": options.timeout,
        "slow_fraction": options.slow_fraction,
    }
    miners = [(n.kind, n.hotkey.ss58, n.seed) for n in neurons if n.role == "miner"]
    targets = await pool.start(miners, base_job, options.seed)

    async def stop() -> None:
        pass  # the hosts stop with the pool

    return Miners(targets, None, stop, {"ray": pool.details})


__all__ = ["Miners", "inprocess_miners", "ray_miners"]

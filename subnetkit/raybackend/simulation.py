"""A simulation's miners on Ray: ``subnetkit simulate --backend ray``.

The chain and the validators stay in the driver; the miners, with their behaviours, are spread
over miner-host actors (one placement bundle each) so a simulation can hold more miners than one
machine does. Each host rebuilds its miners from a small job: the subnet, the validator's
method, the settings overrides, and per miner its behaviour and its hotkey's seed (the hotkeys
were registered on the chain by the driver, so the hosts must serve exactly those keys: these
are throw-away simulation keys, never a wallet's). Honest validators then query them over
gRPC at the nodes' addresses, signed and verified as on a network (there is no trusted mode
here: that is an in-process shortcut).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from subnetkit.core.keys import Signer
from subnetkit.raybackend.hosts import MinerHost
from subnetkit.raybackend.placement import HOST_CPUS, Placement, place
from subnetkit.raybackend.session import RaySession
from subnetkit.raybackend.swarm import RayPlan, node_report, open_cluster, shares
from subnetkit.validator.client import Target

_START_TIMEOUT_S = 300.0
_STOP_TIMEOUT_S = 30.0


def build_host_miners(job: dict[str, Any]) -> list[tuple[Any, Signer | None]]:
    """(miner, signer) per ``job["miners"]`` entry ``[behaviour, seed hex]``; the signer is
    None for ``offline`` miners, which are registered but never served."""
    from subnetkit.core.settings import load_settings
    from subnetkit.core.subnet_spec import resolve_subnet
    from subnetkit.simulate.behaviours import build_behaviour_miner
    from subnetkit.wire.methods import resolve_method

    spec = resolve_subnet(job["subnet"], role="validator")
    spec.class_for("miner")  # imports the subnet's code, and so its synapses
    settings = load_settings(overrides=job["overrides"])
    method = resolve_method(job["method"])
    rng = random.Random(job["seed"])
    out: list[tuple[Any, Signer | None]] = []
    for behaviour, seed in job["miners"]:
        miner = build_behaviour_miner(
            spec,
            behaviour,
            method.name,
            method.response_cls,
            settings=settings,
            timeout=job["timeout"],
            slow_fraction=job["slow_fraction"],
            rng=rng,
        )
        signer = None if behaviour == "offline" else Signer.from_seed(bytes.fromhex(seed))
        out.append((miner, signer))
    return out


class RayMinerPool:
    """Miner hosts on a cluster, reserved before anything else starts and filled later.

    Ray starts its processes by forking; a driver that already serves gRPC (the simulation's
    chain) forks with gRPC's threads busy, which gRPC warns against. So the cluster, its
    placement group and the (empty) hosts come up first, and the miners once the chain has
    registered their hotkeys.
    """

    def __init__(self, session: RaySession, placement: Placement, actors: list[Any]) -> None:
        self.session = session
        self.placement = placement
        self.actors = actors
        self.details: dict[str, Any] = {**session.describe()}

    @classmethod
    async def open(cls, plan: RayPlan, miners: int) -> RayMinerPool:
        session, hosts = await open_cluster(plan, HOST_CPUS)
        try:
            placement = await place(session, min(hosts, miners), HOST_CPUS, plan.strategy)
        except BaseException:
            session.close()
            raise
        actors = [placement.actor(MinerHost, i, HOST_CPUS) for i in range(placement.size)]
        pool = cls(session, placement, actors)
        pool.details["strategy"] = plan.strategy
        return pool

    async def start(
        self, miners: list[tuple[str, str, bytes]], base_job: dict[str, Any], seed: int
    ) -> list[Target]:
        """Serve ``miners`` (behaviour, hotkey ss58, hotkey seed); ``base_job`` holds
        ``subnet``, ``method``, ``overrides``, ``timeout`` and ``slow_fraction``. The targets
        come back in the order given."""
        rng = random.Random(seed)
        jobs, start = [], 0
        for share in shares(len(miners), len(self.actors)):
            part = miners[start : start + share]
            start += share
            entries = [[behaviour, key.hex()] for behaviour, _, key in part]
            jobs.append({**base_job, "seed": rng.getrandbits(63), "miners": entries})
        calls = [a.start_behaviours.remote(j) for a, j in zip(self.actors, jobs, strict=True)]
        started = await asyncio.wait_for(asyncio.gather(*calls), _START_TIMEOUT_S)
        served = [endpoint for host in started for endpoint in host["miners"]]
        pairs = list(zip(miners, served, strict=True))
        wrong = [hk for (_, hk, _), (got, _, _) in pairs if got not in (None, hk)]
        if wrong:
            raise RuntimeError(f"a miner host served other keys than those registered: {wrong}")
        self.details["nodes"] = node_report(started)
        self.details["hosts"] = [{k: v for k, v in h.items() if k != "miners"} for h in started]
        return [Target(hotkey, ip, int(port)) for (_, hotkey, _), (_, ip, port) in pairs]

    async def close(self) -> None:
        try:
            stops = [a.stop.remote() for a in self.actors]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*stops, return_exceptions=True), _STOP_TIMEOUT_S
                )
        finally:
            for actor in self.actors:
                self.session.ray.kill(actor)
            self.placement.remove()
            self.session.close()


__all__ = ["RayMinerPool", "build_host_miners"]

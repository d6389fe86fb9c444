"""A load test's swarm and generators on Ray: ``subnetkit loadtest --backend ray``.

The driver (this process) joins or starts a cluster, reserves one placement bundle per miner
host, and in each bundle starts a :class:`~.hosts.MinerHost` (its share of the N miners) and a
:class:`~.generators.LoadGenerator`. The hosts report their miners' endpoints; each generator
gets the whole target list and 1/K of the plan, so every generator loads miners on every node.
Their recorders come back as HdrHistogram blobs and merge into the one summary, which also says
which nodes the miners ran on and what each host cost (memory, CPU seconds during the load).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

from subnetkit.core.errors import ConfigError
from subnetkit.loadtest.schedule import LoadPlan
from subnetkit.loadtest.targets import TargetSet
from subnetkit.loadtest.workers import merge_reports, plan_to_json, split_plan
from subnetkit.raybackend.generators import LoadGenerator
from subnetkit.raybackend.hosts import MinerHost
from subnetkit.raybackend.placement import GENERATOR_CPUS, HOST_CPUS, Placement, place
from subnetkit.raybackend.session import RaySession
from subnetkit.validator.client import Target

_START_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 30.0


@dataclass
class RayPlan:
    """Where the Ray backend runs: ``--ray-address``, ``--ray-hosts``, ``--ray-strategy``."""

    address: str | None = None  # None: a local cluster on 127.0.0.1
    hosts: int | None = None  # miner hosts; default: one per node of a joined cluster, else 1
    strategy: str = "SPREAD"


def shares(count: int, parts: int) -> list[int]:
    """``count`` split into ``parts`` near-equal shares (larger first)."""
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


async def open_cluster(plan: RayPlan, cpus_per_host: float) -> tuple[RaySession, int]:
    """The session and the number of hosts to run (checked against the cluster)."""
    if plan.hosts is not None and plan.hosts < 1:
        raise ConfigError("--ray-hosts must be at least 1")
    local_cpus = None
    if plan.address is None:
        wanted = (plan.hosts or 1) * cpus_per_host
        local_cpus = max(os.cpu_count() or 1, int(wanted + 0.999))
    session = RaySession.open(plan.address, num_cpus=local_cpus)
    try:
        session.check_loopback()
        hosts = plan.hosts or (1 if plan.address is None else len(session.nodes()))
    except BaseException:
        session.close()
        raise
    return session, hosts


def node_report(hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per node: its id and address, how many hosts and miners it ran."""
    miners: Counter[str] = Counter()
    count: Counter[str] = Counter()
    ips: dict[str, str] = {}
    for host in hosts:
        miners[host["node_id"]] += len(host["miners"])
        count[host["node_id"]] += 1
        ips[host["node_id"]] = host["ip"]
    return [
        {"node_id": node, "ip": ips[node], "hosts": count[node], "miners": miners[node]}
        for node in sorted(ips)
    ]


async def ray_swarm(subnet: str, variant: str | None, count: int, plan: RayPlan) -> TargetSet:
    """Start the cluster side of a load test (see the module docstring)."""
    session, hosts = await open_cluster(plan, HOST_CPUS + GENERATOR_CPUS)
    placement: Placement | None = None
    host_actors: list[Any] = []
    generator_actors: list[Any] = []
    result = TargetSet("ray", [])

    async def close() -> None:
        try:
            stops = [h.stop.remote() for h in host_actors]
            await asyncio.wait_for(asyncio.gather(*stops, return_exceptions=True), _STOP_TIMEOUT_S)
        finally:
            for actor in [*host_actors, *generator_actors]:
                session.ray.kill(actor)
            if placement is not None:
                placement.remove()
            session.close()

    result._close.append(close)
    try:
        hosts = min(hosts, count)
        placement = await place(session, hosts, HOST_CPUS + GENERATOR_CPUS, plan.strategy)
        for index in range(hosts):
            host_actors.append(placement.actor(MinerHost, index, HOST_CPUS))
            generator_actors.append(placement.actor(LoadGenerator, index, GENERATOR_CPUS))
        starts = [
            h.start_swarm.remote(subnet, variant, share)
            for h, share in zip(host_actors, shares(count, hosts), strict=True)
        ]
        readies = [g.ready.remote() for g in generator_actors]
        started, _ = await asyncio.wait_for(
            asyncio.gather(asyncio.gather(*starts), asyncio.gather(*readies)), _START_TIMEOUT_S
        )
    except BaseException:
        await result.close()
        raise
    for host in started:
        result.targets.extend(Target(hotkey, ip, int(port)) for hotkey, ip, port in host["miners"])
    result.details["ray"] = {
        **session.describe(),
        "strategy": plan.strategy,
        "nodes": node_report(started),
        "hosts": [{k: v for k, v in h.items() if k != "miners"} for h in started],
    }

    async def generate(job: dict[str, Any], load: LoadPlan) -> dict[str, Any]:
        await asyncio.gather(*(h.mark.remote() for h in host_actors))
        runs = [
            g.run.remote({**job, "plan": plan_to_json(share), "lane": lane, "lanes": hosts})
            for lane, (g, share) in enumerate(
                zip(generator_actors, split_plan(load, hosts), strict=True)
            )
        ]
        limit = load.duration_s + load.timeout_s + _START_TIMEOUT_S
        reports = await asyncio.wait_for(asyncio.gather(*runs), limit)
        usage = await asyncio.gather(*(h.usage.remote() for h in host_actors))
        ray_details = result.details["ray"]
        load_wall = max(r["wall_s"] for r in reports)
        ray_details["hosts"] = [_host_cost(u, load_wall) for u in usage]
        ray_details["generators"] = [
            {k: r[k] for k in ("node_id", "ip", "pid", "wall_s", "cpu_s")} for r in reports
        ]
        return {**merge_reports(reports, load), "generators": len(reports)}

    result.generate = generate
    return result


def _host_cost(usage: dict[str, Any], load_wall: float) -> dict[str, Any]:
    """One host's figures as the summary shows them (see docs/load-testing.md): its CPU from
    just before the generators started to just after they finished, over the load's own wall
    time (the longest generator's), so start-up and hand-over do not dilute the share."""
    miners = max(1, usage["miners"])
    grown = max(0, usage["rss_bytes"] - usage["rss_base_bytes"])
    wall = load_wall or usage["wall_s"] or 1.0
    return {
        **{k: usage[k] for k in ("node_id", "ip", "pid", "miners", "cpu_s", "wall_s")},
        "rss_mib": round(usage["rss_bytes"] / 2**20, 1),
        "rss_base_mib": round(usage["rss_base_bytes"] / 2**20, 1),
        "rss_per_miner_kib": round(grown / miners / 1024, 1),
        "cpu_share_of_core": round(usage["cpu_s"] / wall, 3),
    }


__all__ = ["RayPlan", "node_report", "open_cluster", "ray_swarm", "shares"]

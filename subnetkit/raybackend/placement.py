"""Spreading actors over a cluster's nodes with a placement group.

One bundle per miner host (with its load generator, for a load test), so the bundles, not the
actors, decide where things run: ``SPREAD`` puts bundles on distinct nodes as far as resources
allow, ``STRICT_SPREAD`` insists (one bundle per node, or no group at all). The group reserves
its CPUs before any actor starts, so a cluster too small for the request fails at once with a
message, rather than leaving half a swarm waiting for resources forever.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from subnetkit.core.errors import ConfigError
from subnetkit.raybackend.session import RaySession

#: Logical CPUs a miner host and a load generator each reserve: one event loop is one core.
HOST_CPUS = 1.0
GENERATOR_CPUS = 1.0
STRATEGIES = ("SPREAD", "STRICT_SPREAD", "PACK", "STRICT_PACK")
_READY_TIMEOUT_S = 60.0


@dataclass
class Placement:
    """A ready placement group of ``size`` bundles."""

    session: RaySession
    group: Any
    size: int

    def actor(self, cls: type, index: int, num_cpus: float) -> Any:
        """An instance of ``cls`` as a Ray actor in bundle ``index``."""
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        strategy = PlacementGroupSchedulingStrategy(
            placement_group=self.group, placement_group_bundle_index=index
        )
        remote = self.session.ray.remote(cls)
        return remote.options(num_cpus=num_cpus, scheduling_strategy=strategy).remote()

    def remove(self) -> None:
        from ray.util.placement_group import remove_placement_group

        remove_placement_group(self.group)


async def place(
    session: RaySession, bundles: int, cpus_per_bundle: float, strategy: str = "SPREAD"
) -> Placement:
    """Reserve ``bundles`` bundles of ``cpus_per_bundle`` CPUs, spread by ``strategy``."""
    from ray.util.placement_group import placement_group, remove_placement_group

    if strategy not in STRATEGIES:
        raise ConfigError(f"--ray-strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    group = placement_group([{"CPU": cpus_per_bundle}] * bundles, strategy=strategy)
    try:
        await asyncio.wait_for(group.ready(), _READY_TIMEOUT_S)
    except TimeoutError:
        remove_placement_group(group)
        cpus = sum(n["cpus"] for n in session.nodes())
        raise ConfigError(
            f"the cluster cannot place {bundles} bundle(s) of {cpus_per_bundle:g} CPU "
            f"({strategy}) within {_READY_TIMEOUT_S:.0f} s; it has {cpus:g} CPUs over "
            f"{len(session.nodes())} node(s): ask for fewer --ray-hosts"
        ) from None
    return Placement(session, group, bundles)


__all__ = ["GENERATOR_CPUS", "HOST_CPUS", "STRATEGIES", "Placement", "place"]

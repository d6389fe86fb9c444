"""The load generator: one async Ray actor running one share of a load test's plan.

It is the ``--workers`` process's job in an actor: :func:`subnetkit.loadtest.workers.run_share`
runs its share of the rate (or concurrency) on its own nonce lane, signing as the harness's
hotkey, and hands back its recorder as HdrHistogram blobs, which the driver merges with every
other generator's into one summary. One generator per miner host, in the same placement bundle,
so adding nodes adds load as well as miners.
"""

from __future__ import annotations

from typing import Any

from subnetkit.raybackend.hosts import node_identity


class LoadGenerator:
    """One share of the load (see the module docstring)."""

    async def ready(self) -> dict[str, Any]:
        """Where it runs; awaited before the load so that start-up is not counted in it."""
        import subnetkit.loadtest.runner  # noqa: F401  (the harness's code, loaded up front)

        return node_identity()

    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        from subnetkit.loadtest.workers import run_share

        report = await run_share(job)
        return {**report, **node_identity()}


__all__ = ["LoadGenerator"]

"""The metrics every neuron exports, whatever its role, on its own registry.

Names follow Prometheus' conventions (docs/operating.md lists them): everything is prefixed
``subnetkit_``, counters end in ``_total``, durations in ``_seconds``, sizes in ``_bytes``, and
``subnetkit_neuron_info`` carries the version and role as labels of a constant 1. No label
takes a value per peer: a network of 4,096 neurons must not make 4,096 series per metric.

The chain-state gauges (uid, stake, incentive, ... of *this* neuron) are read from the
neuron's latest metagraph when Prometheus scrapes, not pushed on every block: a scrape every
15 s costs a few attribute reads, and nothing runs per block. ``core`` must not import the chain,
so the metagraph arrives duck-typed through a callable.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Info, ProcessCollector

#: (metagraph or None, this neuron's uid or None, head block seen) at scrape time
ChainView = Callable[[], tuple[Any, int | None, int]]


def package_version() -> str:
    """The installed subnetkit's version ("unknown" when run from a bare source tree)."""
    try:
        return version("subnetkit")
    except PackageNotFoundError:
        return "unknown"


def neuron_info(registry: CollectorRegistry, role: str, netuid: int) -> None:
    """``subnetkit_neuron_info{version, role, netuid} 1`` plus the standard ``process_*``
    metrics (resident memory, open fds, cpu seconds) of this process."""
    info = Info("subnetkit_neuron", "subnetkit version and this neuron's role", registry=registry)
    info.info({"version": package_version(), "role": role, "netuid": str(netuid)})
    ProcessCollector(registry=registry)


def asyncio_tasks_gauge(registry: CollectorRegistry, loop: asyncio.AbstractEventLoop) -> None:
    """``subnetkit_asyncio_tasks``: tasks alive on the neuron's event loop. A number that only
    grows is a task leak; the soak (bench/soak.py) reads it."""

    def count() -> float:
        with contextlib.suppress(RuntimeError):  # the loop closed between scrapes
            return float(len(asyncio.all_tasks(loop)))
        return math.nan

    Gauge(
        "subnetkit_asyncio_tasks", "Tasks alive on the neuron's event loop", registry=registry
    ).set_function(count)


class ChainStateMetrics:
    """This neuron's own entry on chain, as gauges evaluated at scrape time.

    A gauge reads NaN while the neuron is not registered (or before its first metagraph), so a
    dashboard shows a gap instead of a misleading zero.
    """

    def __init__(self, registry: CollectorRegistry, view: ChainView) -> None:
        self._view = view

        def gauge(name: str, doc: str, read: Callable[[Any, int], float]) -> None:
            Gauge(name, doc, registry=registry).set_function(lambda: self._read(read))

        gauge("subnetkit_neuron_uid", "This neuron's uid on its subnet", lambda mg, uid: uid)
        gauge(
            "subnetkit_neuron_stake_tao",
            "Stake on this neuron's hotkey (TAO units)",
            lambda mg, uid: float(mg.stake[uid]),
        )
        gauge(
            "subnetkit_neuron_incentive",
            "This neuron's incentive at the last epoch (0..1)",
            lambda mg, uid: float(mg.incentive[uid]),
        )
        gauge(
            "subnetkit_neuron_dividends",
            "This neuron's dividends at the last epoch (0..1)",
            lambda mg, uid: float(mg.dividends[uid]),
        )
        gauge(
            "subnetkit_neuron_trust",
            "This neuron's validator trust at the last epoch (0..1)",
            lambda mg, uid: float(mg.validator_trust[uid]),
        )
        gauge(
            "subnetkit_neuron_validator_permit",
            "1 when this neuron holds a validator permit",
            lambda mg, uid: float(bool(mg.validator_permit[uid])),
        )
        gauge(
            "subnetkit_neuron_last_weights_block",
            "Block at which the chain last recorded weights from this neuron (0: never)",
            lambda mg, uid: float(mg.last_update[uid]),
        )
        gauge(
            "subnetkit_neuron_weights_rate_limited_until_block",
            "First block at which the chain accepts this neuron's next weights",
            lambda mg, uid: float(
                int(mg.last_update[uid]) + int(mg.hparams.get("weights_rate_limit", 0))
            ),
        )
        Gauge(
            "subnetkit_chain_head_block",
            "Newest block this neuron has seen on the chain's block stream",
            registry=registry,
        ).set_function(lambda: float(self._view()[2]))
        Gauge(
            "subnetkit_neuron_metagraph_blocks_behind",
            "Blocks between the head seen and the metagraph this neuron acts on",
            registry=registry,
        ).set_function(self._behind)

    def _read(self, read: Callable[[Any, int], float]) -> float:
        metagraph, uid, _ = self._view()
        if metagraph is None or uid is None or uid >= len(metagraph.hotkeys):
            return math.nan
        try:
            return float(read(metagraph, uid))
        except (IndexError, KeyError, TypeError, ValueError):
            return math.nan

    def _behind(self) -> float:
        metagraph, _, head = self._view()
        if metagraph is None:
            return math.nan
        return float(max(0, head - int(metagraph.block)))


__all__ = ["ChainStateMetrics", "ChainView", "asyncio_tasks_gauge", "neuron_info"]

"""What every wire benchmark shares: the event loop choice, closed-loop load, slice medians.

A figure is only meaningful beside a baseline measured in the same run, on the same loop kind,
with the same load shape: these helpers are that shape for bench/wire.py and its sections.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol


class CpuSource(Protocol):
    """The process serving the load: its CPU seconds so far (CPU per request counts both)."""

    def cpu(self) -> float: ...


# -- event loop --------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile by rank (no interpolation: p99 is a latency that really happened)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(
    call: Callable[[], Awaitable[bool]], concurrency: int, seconds: float, miners: CpuSource
) -> dict[str, float]:
    """Closed-loop load: ``concurrency`` workers each calling back to back for ``seconds``."""
    warm_until = time.perf_counter() + min(0.3, seconds / 4)
    await asyncio.gather(*(_until(call, warm_until, []) for _ in range(concurrency)))
    latencies: list[float] = []
    cpu_client, cpu_miner = time.process_time(), miners.cpu()
    started = time.perf_counter()
    stop_at = started + seconds
    failures = sum(
        await asyncio.gather(*(_until(call, stop_at, latencies) for _ in range(concurrency)))
    )
    elapsed = time.perf_counter() - started
    client_cpu, server_cpu = time.process_time() - cpu_client, miners.cpu() - cpu_miner
    cpu = client_cpu + server_cpu
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50_ms": pct(latencies, 0.50) * 1e3,
        "p99_ms": pct(latencies, 0.99) * 1e3,
        "cpu_ms_per_req": cpu / n * 1e3,
        "client_cpu_ms_per_req": client_cpu / n * 1e3,
        "server_cpu_ms_per_req": server_cpu / n * 1e3,
        "requests": n,
        "failures": failures,
    }


async def _until(call: Callable[[], Awaitable[bool]], stop_at: float, out: list[float]) -> int:
    failures = 0
    while time.perf_counter() < stop_at:
        t0 = time.perf_counter()
        ok = await call()
        out.append(time.perf_counter() - t0)
        failures += not ok
    return failures


def median_pair(pairs: list[tuple[dict[str, float], dict[str, float]]]) -> dict[str, Any]:
    """The slice pair with the median throughput ratio, plus the median CPU ratio over slices.

    Rows then come from one real pair (consistent with each other), while each ratio is the
    median over interleaved slices, which filters out the slices that other work hit hardest.
    """
    ranked = sorted(pairs, key=lambda p: p[1]["rps"] / p[0]["rps"])
    base, ours = ranked[len(ranked) // 2]
    return {
        "baseline": dict(base, failures=sum(b["failures"] for b, _ in pairs)),
        "subnetkit": dict(ours, failures=sum(s["failures"] for _, s in pairs)),
        "throughput_ratio": ours["rps"] / base["rps"],
        "cpu_ratio": statistics.median(s["cpu_ms_per_req"] / b["cpu_ms_per_req"] for b, s in pairs),
    }

"""Prometheus metrics of the scoring runtime: batch sizes, device memory, out-of-memory retries.

Labelled by device (``cpu``, ``cuda:0``, ...): a few values per machine, never per miner.
Device memory is read from torch's CUDA allocator when Prometheus scrapes; on a CPU device it
reads NaN (the process's memory is ``process_resident_memory_bytes``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import torch
from prometheus_client import CollectorRegistry, Counter, Gauge


def _cuda_bytes(device: torch.device, read: str) -> float:
    if device.type != "cuda":
        return math.nan
    try:
        return float(getattr(torch.cuda, read)(device))
    except RuntimeError:  # the context is gone (shutting down)
        return math.nan


class ScoringMetrics:
    """The runtime's gauges and counters, with a child per device created up front (so a
    dashboard sees every device from the first scrape, not from its first round)."""

    def __init__(self, registry: CollectorRegistry, devices: Sequence[torch.device]) -> None:
        self.batch_size = Gauge(
            "subnetkit_scoring_batch_size",
            "Responses in the last batch the scorer received, by device",
            ["device"],
            registry=registry,
        )
        self.batch_limit_gauge = Gauge(
            "subnetkit_scoring_batch_limit",
            "Largest batch the scorer is given now (halved after an out-of-memory error)",
            ["device"],
            registry=registry,
        )
        self.oom_retries = Counter(
            "subnetkit_scoring_oom_retries",
            "Batches retried at half the size after the device ran out of memory",
            ["device"],
            registry=registry,
        )
        allocated = Gauge(
            "subnetkit_scoring_device_memory_allocated_bytes",
            "Bytes torch's CUDA allocator holds for tensors now (NaN on cpu)",
            ["device"],
            registry=registry,
        )
        peak = Gauge(
            "subnetkit_scoring_device_memory_peak_bytes",
            "Most bytes torch's CUDA allocator has held for tensors since start (NaN on cpu)",
            ["device"],
            registry=registry,
        )
        for device in dict.fromkeys(devices):
            name = str(device)
            self.batch_size.labels(name)
            self.oom_retries.labels(name)
            allocated.labels(name).set_function(partial(_cuda_bytes, device, "memory_allocated"))
            peak.labels(name).set_function(partial(_cuda_bytes, device, "max_memory_allocated"))

    def batch(self, device: torch.device, size: int) -> None:
        self.batch_size.labels(str(device)).set(size)

    def batch_limit(self, device: torch.device, limit: int) -> None:
        self.batch_limit_gauge.labels(str(device)).set(limit)

    def out_of_memory(self, device: torch.device, new_limit: int) -> None:
        self.oom_retries.labels(str(device)).inc()
        self.batch_limit(device, new_limit)


__all__ = ["ScoringMetrics"]

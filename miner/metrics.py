"""Prometheus metrics for one miner server, on its own registry.

A per-neuron ``CollectorRegistry`` (never the global one) lets a test or a load harness run many
miners in one process without duplicate-metric errors. The caller label is capped: after
``max_callers`` distinct hotkeys, further callers are counted as ``other``, so a flood of fresh
keys cannot grow the metric set without bound. Requests rejected before the signature check are
labelled ``unauthenticated``: their claimed hotkey is not trusted.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UNAUTHENTICATED_CALLER = "unauthenticated"
OTHER_CALLER = "other"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class MinerMetrics:
    """Request counts by synapse/caller/status, latency, in-flight and queue depth."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, max_callers: int = 1024
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.max_callers = max_callers
        self._callers: set[str] = set()
        self.requests = Counter(
            "subnetkit_miner_requests",
            "Requests handled, by synapse, caller hotkey and gRPC status.",
            ("synapse", "caller", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "subnetkit_miner_request_duration_seconds",
            "Time from receipt to the last response byte, by synapse.",
            ("synapse",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "subnetkit_miner_in_flight",
            "Handlers running now, by synapse.",
            ("synapse",),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "subnetkit_miner_queue_depth",
            "Requests waiting for a handler slot, by synapse.",
            ("synapse",),
            registry=self.registry,
        )
        self._latency_children: dict[str, Histogram] = {}
        self._request_children: dict[tuple[str, str, str], Counter] = {}

    def caller_label(self, caller: str) -> str:
        """``caller`` as a metric label, or ``other`` past ``max_callers`` distinct hotkeys: a
        flood of fresh keys must not grow the metric set (and the scrape) without bound."""
        if caller in self._callers:
            return caller
        if len(self._callers) < self.max_callers:
            self._callers.add(caller)
            return caller
        return OTHER_CALLER

    def observe(self, synapse: str, caller: str, status: str, seconds: float) -> None:
        """Count one finished request and its latency. Label children are cached because
        ``labels()`` is measurable on the per-request hot path."""
        key = (synapse, caller, status)
        counter = self._request_children.get(key)
        if counter is None:  # bounded: callers are capped, synapses and statuses are few
            counter = self._request_children[key] = self.requests.labels(*key)
        counter.inc()
        child = self._latency_children.get(synapse)
        if child is None:
            child = self._latency_children[synapse] = self.latency.labels(synapse)
        child.observe(seconds)

"""Prometheus metrics for one miner server, on its own registry.

A per-neuron ``CollectorRegistry`` (never the global one) lets a test or a load harness run many
miners in one process without duplicate-metric errors.

The ``caller`` label is a *class* of caller, never a hotkey: a per-hotkey label grows with the
network (and with every fresh key an attacker makes). The classes are the caller's standing on
the subnet once its signature checked out (``validator``: holds a permit, ``registered``,
``unregistered``; a bare :class:`~subnetkit.miner.server.MinerServer` without a metagraph says
``authenticated``), ``blacklisted`` for a caller the blacklist hook refused (checked before the
signature, so its claimed hotkey is not trusted) and ``unauthenticated`` for a request that
failed the metadata, freshness or signature checks.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UNAUTHENTICATED_CALLER = "unauthenticated"
BLACKLISTED_CALLER = "blacklisted"
AUTHENTICATED_CALLER = "authenticated"
#: the classes a ``caller_class`` hook may return; anything else is counted as ``other``
CALLER_CLASSES = frozenset(
    {
        "validator",
        "registered",
        "unregistered",
        AUTHENTICATED_CALLER,
        BLACKLISTED_CALLER,
        UNAUTHENTICATED_CALLER,
    }
)
OTHER_CALLER = "other"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class MinerMetrics:
    """Request counts by synapse/caller class/status, latency, in-flight and queue depth."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        caller_class: Callable[[str], str] | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        #: an authenticated caller's hotkey -> its class (a miner neuron asks its metagraph)
        self.caller_class: Callable[[str], str] = caller_class or (lambda _: AUTHENTICATED_CALLER)
        self.requests = Counter(
            "subnetkit_miner_requests",
            "Requests handled, by synapse, caller class (see miner/metrics.py) and gRPC status.",
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
        """An authenticated caller's class (from the ``caller_class`` hook) as a label; a class
        outside :data:`CALLER_CLASSES` (a hook returning hotkeys, say) becomes ``other``, so the
        label stays bounded whatever the hook does."""
        try:
            kind = self.caller_class(caller)
        except Exception:
            return OTHER_CALLER
        return kind if kind in CALLER_CLASSES else OTHER_CALLER

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

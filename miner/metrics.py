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

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

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


def _le(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client's own Histogram writes it."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


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
        #: requests by (synapse, caller, status) and latency by synapse, tallied in plain dicts
        #: and turned into Prometheus families only when scraped (see RequestTally: why)
        self.tally = RequestTally()
        self.registry.register(self.tally)
        self.in_flight = Gauge(
            "subnetkit_miner_in_flight",
            "Handlers running now, by synapse.",
            ("synapse",),
            registry=self.registry,
        )
        self.session_streams = Gauge(
            "subnetkit_miner_session_streams",
            "Session streams open now (mutual TLS: many requests on one call).",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "subnetkit_miner_queue_depth",
            "Requests waiting for a handler slot, by synapse.",
            ("synapse",),
            registry=self.registry,
        )

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
        """Count one finished request and its latency (a few dict operations: refused requests
        pay this too, and they must stay cheap)."""
        self.tally.observe(synapse, caller, status, seconds)


class RequestTally(Collector):
    """``subnetkit_miner_requests_total`` and ``subnetkit_miner_request_duration_seconds``,
    counted in plain dicts on the event loop and exported at scrape time.

    Why not a prometheus_client Counter and Histogram: each increment takes a lock and checks
    exemplars, about 8 us per request together, which is a measurable share of what a refused
    request costs (``bench/wire.py``'s rejection section); a scrape happens seconds apart.
    Label sets stay bounded: synapses and statuses are few, callers are classes.
    """

    def __init__(self, buckets: tuple[float, ...] = _LATENCY_BUCKETS) -> None:
        self.bounds = buckets
        self._requests: dict[tuple[str, str, str], int] = {}
        # synapse -> [count per bucket (the last is +Inf), sum]
        self._latency: dict[str, tuple[list[int], list[float]]] = {}

    def observe(self, synapse: str, caller: str, status: str, seconds: float) -> None:
        key = (synapse, caller, status)
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        entry = self._latency.get(synapse)
        if entry is None:
            entry = self._latency[synapse] = ([0] * (len(self.bounds) + 1), [0.0])
        entry[0][bisect_left(self.bounds, seconds)] += 1
        entry[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "subnetkit_miner_requests",
            "Requests handled, by synapse, caller class (see miner/metrics.py) and gRPC status.",
            labels=("synapse", "caller", "status"),
        )
        for key, count in self._requests.copy().items():  # copy: scrapes run on a thread
            requests.add_metric(key, count)
        yield requests
        latency = HistogramMetricFamily(
            "subnetkit_miner_request_duration_seconds",
            "Time from receipt to the last response byte, by synapse.",
            labels=("synapse",),
        )
        for synapse, (counts, total) in self._latency.copy().items():
            cumulative, running = [], 0
            for bound, count in zip((*self.bounds, float("inf")), list(counts), strict=True):
                running += count
                cumulative.append((_le(bound), running))
            latency.add_metric((synapse,), cumulative, total[0])
        yield latency

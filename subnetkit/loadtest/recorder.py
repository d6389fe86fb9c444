"""What a load run measured: HDR histograms (that merge across workers) and a coarse timeline.

Values are recorded in microseconds into HdrHistograms (1 µs to 1 h, 3 significant figures:
~180 KiB each, whatever the request count). Three are kept: latency (from the *scheduled* send
time in the open model; from the actual send in the closed one), service time (from the actual
send) and send lag (actual minus scheduled: how far the harness fell behind its own schedule).
The timeline keeps, per bucket of ``bucket_s`` seconds, the count of successes and errors and a
2-significant-figure histogram for that bucket's percentiles; the bucket width is chosen from
the planned duration so the timeline never holds more than ~300 buckets.

A recorder is plain data: :meth:`Recorder.to_wire` / :meth:`Recorder.from_wire` ship it from a
worker process as encoded histogram blobs, and :meth:`Recorder.merge` adds one into another.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram

_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000  # one hour: a request cannot take longer without being an error
_MAX_BUCKETS = 300
_MAX_MESSAGE = 300  # characters of one error example kept per status


def _histogram(figures: int = 3) -> HdrHistogram:
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, figures)


class Bucket:
    """One slice of the timeline: outcomes completed in it and their latencies."""

    __slots__ = ("errors", "latency", "ok")

    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.latency = _histogram(2)


class Recorder:
    """Outcomes of one run (or of one worker's share of it). Not thread-safe: one event loop."""

    def __init__(self, planned_s: float) -> None:
        self.bucket_s = max(1, math.ceil(planned_s / _MAX_BUCKETS))
        self.latency = _histogram()
        self.service = _histogram()
        self.lag = _histogram()
        self.timeline: dict[int, Bucket] = {}
        self.statuses: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.scheduled = 0
        self.sent = 0
        self.dropped = 0

    def record(
        self, start: float, scheduled: float, sent: float, done: float, statuses: list[str]
    ) -> None:
        """One request (or one round) ended. Times are loop seconds; ``start`` is the run's t0.

        ``statuses`` holds one gRPC status name per miner asked ("OK" for an answer that
        verified); a round with any failure counts as an error in the timeline.
        """
        # once per request: the clamps inlined, no generator, the bucket found in one lookup
        latency = min(max(int((done - scheduled) * 1e6), _LOWEST_US), _HIGHEST_US)
        self.latency.record_value(latency)
        self.service.record_value(min(max(int((done - sent) * 1e6), _LOWEST_US), _HIGHEST_US))
        self.lag.record_value(min(max(int((sent - scheduled) * 1e6), _LOWEST_US), _HIGHEST_US))
        statuses_seen = self.statuses
        ok = True
        for status in statuses:
            statuses_seen[status] += 1
            if status != "OK":
                ok = False
        bucket = self.timeline.get(index := int((done - start) // self.bucket_s))
        if bucket is None:
            bucket = self.timeline[index] = Bucket()
        if ok:
            bucket.ok += 1
        else:
            bucket.errors += 1
        bucket.latency.record_value(latency)

    def note_error(self, status: str, message: str) -> None:
        """Keep the first message seen for each status (bounded), to say *why* in the report."""
        if status not in self.examples:
            self.examples[status] = message[:_MAX_MESSAGE]

    @property
    def completed(self) -> int:
        return int(self.latency.get_total_count())

    def merge(self, other: Recorder) -> None:
        """Add ``other``'s outcomes into this one (same planned duration, so same buckets)."""
        self.latency.add(other.latency)
        self.service.add(other.service)
        self.lag.add(other.lag)
        self.statuses.update(other.statuses)
        for status, message in other.examples.items():
            self.examples.setdefault(status, message)
        self.scheduled += other.scheduled
        self.sent += other.sent
        self.dropped += other.dropped
        for index, theirs in other.timeline.items():
            mine = self.timeline.get(index)
            if mine is None:
                mine = self.timeline[index] = Bucket()
            mine.ok += theirs.ok
            mine.errors += theirs.errors
            mine.latency.add(theirs.latency)

    def to_wire(self) -> dict[str, Any]:
        """JSON-safe form with histograms as HdrHistogram's compressed base64 blobs."""
        return {
            "bucket_s": self.bucket_s,
            "latency": self.latency.encode().decode(),
            "service": self.service.encode().decode(),
            "lag": self.lag.encode().decode(),
            "statuses": dict(self.statuses),
            "examples": self.examples,
            "counts": [self.scheduled, self.sent, self.dropped],
            "timeline": {
                str(i): [b.ok, b.errors, b.latency.encode().decode()]
                for i, b in self.timeline.items()
            },
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any], planned_s: float) -> Recorder:
        rec = cls(planned_s)
        rec.bucket_s = int(data["bucket_s"])
        for name in ("latency", "service", "lag"):
            getattr(rec, name).decode_and_add(data[name].encode())
        rec.statuses.update(data["statuses"])
        rec.examples.update(data["examples"])
        rec.scheduled, rec.sent, rec.dropped = (int(x) for x in data["counts"])
        for index, (ok, errors, blob) in data["timeline"].items():
            bucket = rec.timeline[int(index)] = Bucket()
            bucket.ok, bucket.errors = int(ok), int(errors)
            bucket.latency.decode_and_add(blob.encode())
        return rec


def percentiles_us(histogram: HdrHistogram) -> dict[str, int | float]:
    """p50/p90/p95/p99/p99.9/max/min/mean in µs (zeros when nothing was recorded)."""
    if histogram.get_total_count() == 0:
        return {k: 0 for k in ("p50", "p90", "p95", "p99", "p99_9", "max", "min", "mean")}
    found = histogram.get_percentile_to_value_dict([50, 90, 95, 99, 99.9])
    return {
        "p50": found[50],
        "p90": found[90],
        "p95": found[95],
        "p99": found[99],
        "p99_9": found[99.9],
        "max": histogram.get_max_value(),
        "min": histogram.get_min_value(),
        "mean": round(histogram.get_mean_value(), 1),
    }


def percentile_curve(histogram: HdrHistogram) -> list[tuple[float, int]]:
    """(percentile, value µs) pairs from 0 to 100 for the report's percentile chart."""
    if histogram.get_total_count() == 0:
        return []
    points = [
        (p.percentile_level_iterated_to, p.value_iterated_to)
        for p in histogram.get_percentile_iterator(5)
    ]
    return [(min(level, 100.0), int(value)) for level, value in points]


__all__ = ["Bucket", "Recorder", "percentile_curve", "percentiles_us"]

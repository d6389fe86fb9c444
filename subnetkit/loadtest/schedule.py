"""Load models: closed (fixed concurrency), open (a rate, with ramps), and validator rounds.

In the open model every request has a *scheduled* send time fixed before the run starts, and its
latency is counted from that time, not from when it actually left. A stalled miner (or a stalled
harness) then cannot hide its stall by slowing the sender down: the requests that should have
gone out during the stall are charged for the wait (coordinated omission; docs/load-testing.md).

``--stages 10s:100,30s:1000,10s:0`` means: ramp linearly from the starting rate (``--rate``, or 0)
to 100/s over 10 s, then to 1000/s over 30 s, then down to 0 over 10 s, as k6's
ramping-arrival-rate does. Send times within a ramp are exact (the inverse of the ramp's
cumulative count), so a ramp's requests are spread evenly, not in per-second bursts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from subnetkit.core.errors import ConfigError

_STAGE = re.compile(r"^\s*(\d+(?:\.\d+)?)(ms|s|m|h)?\s*:\s*(\d+(?:\.\d+)?)\s*$")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly to ``target`` requests/s over ``seconds``."""

    seconds: float
    target: float


def parse_stages(text: str) -> list[Stage]:
    """``"10s:100,30s:1000,10s:0"`` -> stages; ConfigError says which part is wrong."""
    stages: list[Stage] = []
    for part in text.split(","):
        match = _STAGE.match(part)
        if match is None:
            raise ConfigError(
                f"--stages part {part.strip()!r} is not DURATION:RATE (e.g. 10s:100, 500ms:20)"
            )
        seconds = float(match[1]) * _UNIT_S[match[2]]
        if seconds <= 0:
            raise ConfigError(f"--stages part {part.strip()!r}: the duration must be positive")
        stages.append(Stage(seconds, float(match[3])))
    return stages


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What load to apply. ``model`` is ``closed``, ``open`` or ``fanout``.

    * closed: ``concurrency`` workers, each sending its next request when the last one answers;
    * open: requests at ``rate``/s (or along ``stages``), whatever the miners do;
    * fanout: rounds that query ``fanout`` miners at once (a validator's round), closed with
      ``concurrency`` rounds in flight, or open at ``rate`` rounds/s when a rate is given.
    """

    model: str
    duration_s: float
    concurrency: int = 1
    rate: float | None = None
    stages: tuple[Stage, ...] = ()
    fanout: int = 1
    timeout_s: float = 10.0
    max_inflight: int = 10_000

    @property
    def is_open(self) -> bool:
        """Requests (or rounds) follow a schedule rather than a worker count."""
        return self.model == "open" or (self.model == "fanout" and self.rate is not None)

    def schedule(self) -> Schedule:
        return Schedule(self.rate or 0.0, self.stages, self.duration_s)


def plan_from_options(
    *,
    concurrency: int | None,
    rate: float | None,
    stages: str | None,
    duration: float | None,
    fanout: int | None,
    timeout: float,
    max_inflight: int,
) -> LoadPlan:
    """The plan the CLI flags describe; ConfigError names a flag combination that is unclear."""
    if concurrency is not None and (rate is not None or stages is not None):
        raise ConfigError(
            "--concurrency (closed model) and --rate/--stages (open) exclude each other"
        )
    if concurrency is not None and concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if rate is not None and rate <= 0:
        raise ConfigError("--rate must be positive (requests per second)")
    if fanout is not None and fanout < 1:
        raise ConfigError("--fanout must be at least 1")
    if timeout <= 0:
        raise ConfigError("--timeout must be positive (seconds)")
    parsed = tuple(parse_stages(stages)) if stages else ()
    if parsed and duration is not None:
        raise ConfigError("--stages sets the duration itself: drop --duration")
    total = (
        sum(s.seconds for s in parsed) if parsed else (duration if duration is not None else 10.0)
    )
    if total <= 0:
        raise ConfigError("--duration must be positive (seconds)")
    if fanout is not None:
        model = "fanout"
    elif rate is not None or parsed:
        model = "open"
    else:
        model = "closed"
    return LoadPlan(
        model=model,
        duration_s=total,
        concurrency=concurrency or 1,
        rate=rate if (rate is not None or parsed) else None,
        stages=parsed,
        fanout=fanout or 1,
        timeout_s=timeout,
        max_inflight=max_inflight,
    )


class Schedule:
    """Scheduled send offsets (seconds from the start) of an open-model run."""

    def __init__(self, start_rate: float, stages: tuple[Stage, ...], duration_s: float) -> None:
        if not stages:
            stages = (Stage(duration_s, start_rate),)
            start_rate = stages[0].target  # a constant rate: a "ramp" from R to R
        self.start_rate = start_rate
        self.stages = stages
        self.duration_s = sum(s.seconds for s in stages)

    def rate_at(self, t: float) -> float:
        """The scheduled rate at offset ``t`` (requests/s)."""
        begin, rate = 0.0, self.start_rate
        for stage in self.stages:
            if t < begin + stage.seconds:
                return rate + (stage.target - rate) * (t - begin) / stage.seconds
            begin, rate = begin + stage.seconds, stage.target
        return 0.0

    def expected_count(self) -> float:
        """How many requests the whole schedule holds (the area under the rate curve)."""
        total, rate = 0.0, self.start_rate
        for stage in self.stages:
            total += (rate + stage.target) / 2 * stage.seconds
            rate = stage.target
        return total

    def offsets(self) -> Iterator[float]:
        """Send offsets in order: request k goes out when the cumulative count reaches k."""
        begin, r0, carried = 0.0, self.start_rate, 0.0
        for stage in self.stages:
            r1, span = stage.target, stage.seconds
            slope = (r1 - r0) / span
            area = (r0 + r1) / 2 * span
            k = 1.0 - carried  # count still owed before the next send, inside this stage
            while k <= area + 1e-9:
                yield begin + _time_for_count(r0, slope, k, span)
                k += 1.0
            carried = area - (k - 1.0)  # fraction of a request already accrued at the end
            begin, r0 = begin + span, r1


def _time_for_count(r0: float, slope: float, count: float, span: float) -> float:
    """Smallest t in [0, span] with r0*t + slope*t^2/2 = count (the ramp's inverse)."""
    if abs(slope) < 1e-12:
        return min(count / r0, span) if r0 > 0 else span
    disc = r0 * r0 + 2 * slope * count
    t = (-r0 + math.sqrt(max(disc, 0.0))) / slope
    return min(max(t, 0.0), span)


__all__ = ["LoadPlan", "Schedule", "Stage", "parse_stages", "plan_from_options"]

"""Load plans, ramps and thresholds: parsing, refusals in one line, and what they compute."""

from __future__ import annotations

import itertools

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.loadtest.recorder import Recorder
from subnetkit.loadtest.schedule import Schedule, parse_stages, plan_from_options
from subnetkit.loadtest.thresholds import evaluate, parse_threshold


def plan(**kw):  # type: ignore[no-untyped-def]
    base = dict(
        concurrency=None,
        rate=None,
        stages=None,
        duration=None,
        fanout=None,
        timeout=5.0,
        max_inflight=100,
    )
    base.update(kw)
    return plan_from_options(**base)


def test_models_follow_the_flags() -> None:
    assert plan().model == "closed" and plan().duration_s == 10.0
    assert plan(rate=50, duration=2).model == "open"
    assert plan(stages="1s:10").is_open and plan(stages="1s:10").duration_s == 1.0
    assert plan(fanout=4).model == "fanout" and not plan(fanout=4).is_open
    assert plan(fanout=4, rate=2).is_open


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"concurrency": 2, "rate": 5}, "exclude each other"),
        ({"rate": -1}, "--rate must be positive"),
        ({"stages": "10:x"}, "DURATION:RATE"),
        ({"stages": "1s:5", "duration": 3}, "drop --duration"),
        ({"fanout": 0}, "--fanout"),
    ],
)
def test_unclear_flags_are_one_line_errors(kw: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=words):
        plan(**kw)


def test_constant_rate_sends_evenly() -> None:
    offsets = list(Schedule(100.0, (), 2.0).offsets())
    assert len(offsets) == 200
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(offsets)}
    assert gaps == {0.01}


def test_ramps_follow_the_area_under_the_rate() -> None:
    schedule = Schedule(0.0, tuple(parse_stages("2s:100,1s:100,2s:0")), 0)
    offsets = list(schedule.offsets())
    assert schedule.expected_count() == 300.0
    assert abs(len(offsets) - 300) <= 1
    assert offsets == sorted(offsets) and offsets[-1] <= 5.0
    first_second = sum(1 for t in offsets if t < 1.0)  # ramp 0 -> 50/s: area 25
    assert abs(first_second - 25) <= 1
    assert abs(schedule.rate_at(1.0) - 50.0) < 1e-9 and schedule.rate_at(9.0) == 0.0


def test_thresholds_parse_check_and_name_what_failed() -> None:
    summary = {
        "latency_us": {
            "p50": 1000,
            "p90": 2000,
            "p95": 3000,
            "p99": 40_000,
            "p99_9": 90_000,
            "max": 100_000,
            "min": 10,
            "mean": 1500.0,
        },
        "error_rate": 0.02,
        "errors": 4,
        "rps": 950.0,
        "dropped": 0,
    }
    texts = ["p99<50ms", "p(99.9)<0.05s", "error_rate<0.01", "rps>1000", "dropped==0", "max<=100ms"]
    results = evaluate([parse_threshold(t) for t in texts], summary)
    assert [r["ok"] for r in results] == [True, False, False, False, True, True]
    assert results[1]["actual"] == 90.0  # ms
    for bad in ("p99", "p98<1ms", "rps>1000ms", "latency<1", "p99<<1"):
        with pytest.raises(ConfigError):
            parse_threshold(bad)


def test_recorders_merge_exactly_through_their_wire_form() -> None:
    a, b = Recorder(10), Recorder(10)
    for i in range(1000):
        a.record(0.0, i * 0.001, i * 0.001, i * 0.001 + 0.002, ["OK"])
        b.record(0.0, i * 0.001, i * 0.001 + 0.001, i * 0.001 + 0.010, ["OK", "UNAVAILABLE"])
    b.note_error("UNAVAILABLE", "no miner")
    shipped = Recorder.from_wire(b.to_wire(), 10)
    a.merge(shipped)
    assert a.completed == 2000
    assert a.statuses == {"OK": 2000, "UNAVAILABLE": 1000}
    assert a.examples == {"UNAVAILABLE": "no miner"}
    assert a.latency.get_max_value() == b.latency.get_max_value()
    assert sum(x.ok for x in a.timeline.values()) == 1000
    assert sum(x.errors for x in a.timeline.values()) == 1000

"""Pass/fail conditions on a run's figures, written as k6 writes them: ``'p99<50ms'``.

A threshold is ``METRIC OP VALUE``. Metrics: latency percentiles ``p50 p90 p95 p99 p99.9`` (also
``p(99)``), ``max``, ``min``, ``mean``/``avg``; ``error_rate`` (failed / completed), ``errors``,
``rps`` (completed per second), ``dropped``. Operators ``< <= > >= == !=``. Latency values take a
unit (``us``, ``ms``, ``s``; ms when none is given). All are checked once, after the run; the
CLI exits 1 when any fails and names each (docs/load-testing.md).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from subnetkit.core.errors import ConfigError

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(
    r"^\s*([a-z_]+(?:\(\d+(?:\.\d+)?\))?|p\d+(?:\.\d+)?)\s*(<=|>=|==|!=|<|>)\s*"
    r"(\d+(?:\.\d+)?(?:e-?\d+)?)\s*(us|µs|ms|s)?\s*$"
)
_UNIT_MS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, None: 1.0}
_COUNTS = ("error_rate", "errors", "rps", "dropped")
_LATENCY = {"max": "max", "min": "min", "mean": "mean", "avg": "mean", "med": "p50"}


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed condition; ``key`` is where its figure lives in the summary."""

    text: str
    key: str
    op: str
    value: float  # latency in ms, others as written
    latency: bool

    def check(self, summary: dict[str, Any]) -> tuple[bool, float]:
        """(passed, the actual figure in the threshold's terms: ms for latency)."""
        if self.latency:
            actual = summary["latency_us"][self.key] / 1000.0
        else:
            actual = float(summary[self.key])
        return _OPS[self.op](actual, self.value), actual


def parse_threshold(text: str) -> Threshold:
    match = _EXPR.match(text)
    if match is None:
        raise ConfigError(
            f"threshold {text!r} is not METRIC OP VALUE, e.g. 'p99<50ms', 'error_rate<0.01', "
            "'rps>1000'"
        )
    name, op, number, unit = match[1], match[2], float(match[3]), match[4]
    pct = re.fullmatch(r"p\(?(\d+(?:\.\d+)?)\)?", name)
    if pct is not None:
        key = {"50": "p50", "90": "p90", "95": "p95", "99": "p99", "99.9": "p99_9"}.get(pct[1])
        if key is None:
            raise ConfigError(f"threshold {text!r}: percentiles are p50, p90, p95, p99, p99.9")
        return Threshold(text, key, op, number * _UNIT_MS[unit], True)
    if name in _LATENCY:
        return Threshold(text, _LATENCY[name], op, number * _UNIT_MS[unit], True)
    if name in _COUNTS:
        if unit is not None:
            raise ConfigError(f"threshold {text!r}: {name} takes no unit")
        return Threshold(text, name, op, number, False)
    known = "p50 p90 p95 p99 p99.9 max min mean error_rate errors rps dropped"
    raise ConfigError(f"threshold {text!r}: unknown metric {name!r} (known: {known})")


def evaluate(thresholds: list[Threshold], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per threshold: its text, whether it passed, and the actual figure."""
    out = []
    for t in thresholds:
        ok, actual = t.check(summary)
        out.append({"threshold": t.text, "ok": ok, "actual": round(actual, 6)})
    return out


__all__ = ["Threshold", "evaluate", "parse_threshold"]

"""The figures of a run as one JSON object (schema ``subnetkit.loadtest/v1``, in
docs/load-testing.md), and the harness-bottleneck check.

Durations carry their unit in the key (``*_us``, ``*_s``). ``latency_us`` is from the scheduled
send time in the open model (from the actual send in the closed one); ``service_time_us`` is
always from the actual send; ``send_lag_us`` is how late the harness sent against its schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from subnetkit.loadtest.recorder import Recorder, percentile_curve, percentiles_us
from subnetkit.loadtest.schedule import LoadPlan

SCHEMA = "subnetkit.loadtest/v1"
#: The harness counts as the bottleneck past this share of one core (its event loop is one
#: thread: at ~100% it cannot send faster whatever the miners do) ...
BUSY_CPU_SHARE = 0.9
#: ... or when its sends fell this far behind schedule at p99 (open model), ...
LATE_SEND_US = 10_000
#: ... or when it sent less than this share of what the schedule asked for.
SHORT_SEND_SHARE = 0.95


def harness_warnings(
    plan: LoadPlan, rec: Recorder, cpu_share: float, miners_in_harness: bool
) -> list[str]:
    """Why the figures may describe the harness rather than the miners (empty: they don't)."""
    warnings = []
    if cpu_share >= BUSY_CPU_SHARE:
        who = (
            "the harness (and the in-process miners it hosts)"
            if miners_in_harness
            else ("the harness")
        )
        warnings.append(
            f"{who} used {cpu_share:.0%} of a core: it may have been the bottleneck; lower the "
            "load, or use --backend processes so the miners run on other cores"
        )
    if plan.is_open:
        lag_p99 = rec.lag.get_value_at_percentile(99) if rec.lag.get_total_count() else 0
        if lag_p99 > LATE_SEND_US:
            warnings.append(
                f"sends fell behind their schedule (p99 {lag_p99 / 1000:.1f} ms late): the "
                "harness could not keep the rate; latency still counts from the schedule"
            )
        expected = plan.schedule().expected_count()
        if expected >= 20 and rec.sent < SHORT_SEND_SHARE * expected:
            warnings.append(
                f"only {rec.sent} of ~{expected:.0f} scheduled requests were sent "
                f"({rec.dropped} dropped at --max-inflight {plan.max_inflight})"
            )
    return warnings


def build_summary(
    *,
    plan: LoadPlan,
    rec: Recorder,
    meta: dict[str, Any],
    wall_s: float,
    cpu_s: float,
    end_reason: str,
    started_at: datetime | None = None,
    miners_in_harness: bool = False,
) -> dict[str, Any]:
    """Everything ``--format json`` prints, except threshold results (added by the runner)."""
    completed = rec.completed
    failed = completed - _all_ok(rec)
    cpu_share = cpu_s / wall_s if wall_s > 0 else 0.0
    warnings = harness_warnings(plan, rec, cpu_share, miners_in_harness)
    errors = {k: v for k, v in sorted(rec.statuses.items()) if k != "OK"}
    return {
        "schema": SCHEMA,
        **meta,
        "model": plan.model,
        "options": {
            "duration_s": plan.duration_s,
            "concurrency": plan.concurrency if not plan.is_open else None,
            "rate": plan.rate,
            "stages": [[s.seconds, s.target] for s in plan.stages],
            "fanout": plan.fanout,
            "timeout_s": plan.timeout_s,
            "max_inflight": plan.max_inflight,
        },
        "started_at": (started_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "end_reason": end_reason,
        "duration_s": round(wall_s, 3),
        "scheduled": rec.scheduled,
        "sent": rec.sent,
        "dropped": rec.dropped,
        "completed": completed,
        "ok": completed - failed,
        "errors": failed,
        "error_rate": round(failed / completed, 6) if completed else 0.0,
        "rps": round(completed / wall_s, 3) if wall_s > 0 else 0.0,
        "latency_us": percentiles_us(rec.latency),
        "service_time_us": percentiles_us(rec.service),
        "send_lag_us": percentiles_us(rec.lag),
        "status_counts": dict(sorted(rec.statuses.items())),
        "errors_by_status": errors,
        "error_examples": dict(sorted(rec.examples.items())),
        "harness": {
            "cpu_s": round(cpu_s, 3),
            "cpu_share_of_core": round(cpu_share, 3),
            "cpu_us_per_request": round(cpu_s / completed * 1e6, 1) if completed else None,
            "includes_miners": miners_in_harness,
            "bottleneck": bool(warnings),
            "warnings": warnings,
        },
        "percentile_curve_us": percentile_curve(rec.latency),
        "timeline": [
            {
                "t_s": index * rec.bucket_s,
                "ok": bucket.ok,
                "errors": bucket.errors,
                "p50_us": bucket.latency.get_value_at_percentile(50),
                "p99_us": bucket.latency.get_value_at_percentile(99),
                "max_us": bucket.latency.get_max_value(),
            }
            for index, bucket in sorted(rec.timeline.items())
        ],
        "bucket_s": rec.bucket_s,
        "histogram": rec.latency.encode().decode(),
    }


def _all_ok(rec: Recorder) -> int:
    """Requests (rounds) whose every miner answered: the timeline counts them as they end."""
    return sum(bucket.ok for bucket in rec.timeline.values())


def text_lines(summary: dict[str, Any]) -> list[str]:
    """The human summary (what ``--format text`` prints after the run)."""
    lat = summary["latency_us"]
    lines = [
        f"{summary['model']} model against {summary['targets']} {summary['backend']} miner(s) "
        f"for {summary['duration_s']:.1f} s: {summary['completed']} completed, "
        f"{summary['rps']:.1f}/s, {summary['errors']} errors ({summary['error_rate']:.2%}), "
        f"{summary['dropped']} dropped",
        "latency ms: "
        + "  ".join(
            f"{k.replace('_', '.')}={lat[k] / 1000:.2f}"
            for k in ("p50", "p90", "p99", "p99_9", "max")
        ),
    ]
    for status, count in summary["errors_by_status"].items():
        example = summary["error_examples"].get(status, "")
        lines.append(f"  {status}: {count}  e.g. {example}")
    harness = summary["harness"]
    per = harness["cpu_us_per_request"]
    lines.append(
        f"harness CPU: {harness['cpu_share_of_core']:.0%} of a core"
        + (f", {per:.0f} µs per request" if per is not None else "")
        + (" (including the in-process miners)" if harness["includes_miners"] else "")
    )
    lines.extend(f"warning: {w}" for w in harness["warnings"])
    return lines


__all__ = ["SCHEMA", "build_summary", "harness_warnings", "text_lines"]

"""``--report FILE.html``: one self-contained page with the run's charts, readable offline.

plotly.js is inlined once in the page's head (about 4.6 MiB) and each chart is a ``<div>``
fragment that uses it, so the file opens from a disk or an e-mail with no network at all; a CDN
link would leave a blank page on a machine without internet. Four charts: latency over time
(p50, p99 and max of each timeline bucket), the latency percentile curve (log-scaled towards
the tail, like HdrHistogram's plots), throughput (answers and errors per second) and the errors
by gRPC status. A table of the headline figures and any harness warning sit above them.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

_TICKS = [0.0, 90.0, 99.0, 99.9, 99.99, 99.999]


def _tail_x(percentile: float) -> float:
    """Percentile -> x on a "nines" axis: 90% at 1, 99% at 2, 99.9% at 3."""
    return -math.log10(max(1.0 - percentile / 100.0, 1e-6))


def figures(summary: dict[str, Any]) -> list[Any]:
    """The four plotly figures of a summary (see the module docstring)."""
    import plotly.graph_objects as go

    timeline = summary["timeline"]
    width = summary["bucket_s"]
    t = [b["t_s"] for b in timeline]
    latency = go.Figure(
        [
            go.Scatter(x=t, y=[b[key] / 1000 for b in timeline], mode="lines+markers", name=name)
            for key, name in (("p50_us", "p50"), ("p99_us", "p99"), ("max_us", "max"))
        ],
        layout={
            "title": "Latency over time",
            "xaxis_title": "seconds into the run",
            "yaxis_title": "ms",
        },
    )
    curve = summary["percentile_curve_us"]
    percentiles = go.Figure(
        [
            go.Scatter(
                x=[_tail_x(p) for p, _ in curve],
                y=[v / 1000 for _, v in curve],
                mode="lines",
                name="latency",
                text=[f"p{p:g}" for p, _ in curve],
            )
        ],
        layout={
            "title": "Latency by percentile",
            "yaxis_title": "ms",
            "xaxis": {
                "tickvals": [_tail_x(p) for p in _TICKS],
                "ticktext": [f"{p:g}%" for p in _TICKS],
                "title": "percentile",
            },
        },
    )
    throughput = go.Figure(
        [
            go.Scatter(x=t, y=[b["ok"] / width for b in timeline], name="answers/s", mode="lines"),
            go.Scatter(
                x=t, y=[b["errors"] / width for b in timeline], name="errors/s", mode="lines"
            ),
        ],
        layout={
            "title": "Throughput",
            "xaxis_title": "seconds into the run",
            "yaxis_title": "per second",
        },
    )
    statuses = summary["status_counts"] or {"(none)": 0}
    errors = go.Figure(
        [go.Bar(x=list(statuses), y=list(statuses.values()), name="count")],
        layout={"title": "Outcomes by gRPC status", "yaxis_title": "requests"},
    )
    return [latency, percentiles, throughput, errors]


def _table(summary: dict[str, Any]) -> str:
    lat = summary["latency_us"]
    rows = [
        ("model", summary["model"]),
        ("miners", f"{summary['targets']} ({summary['backend']})"),
        ("duration", f"{summary['duration_s']:.1f} s"),
        ("completed", summary["completed"]),
        ("rate", f"{summary['rps']:.1f}/s"),
        ("errors", f"{summary['errors']} ({summary['error_rate']:.2%})"),
        ("dropped", summary["dropped"]),
        *(
            (f"latency {k.replace('_', '.')}", f"{lat[k] / 1000:.2f} ms")
            for k in ("p50", "p90", "p99", "p99_9", "max")
        ),
        ("harness CPU", f"{summary['harness']['cpu_share_of_core']:.0%} of a core"),
    ]
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    warnings = "".join(
        f"<p class='warning'>{html.escape(w)}</p>" for w in summary["harness"]["warnings"]
    )
    return f"<table>{cells}</table>{warnings}"


def page(title: str, intro_html: str, charts: list[Any]) -> str:
    """A self-contained page: plotly.js inlined once, then ``intro_html`` and each chart.
    (``subnetkit simulate`` writes its page with this too.)"""
    from plotly.offline import get_plotlyjs

    sections = "".join(
        f"<section>{fig.to_html(full_html=False, include_plotlyjs=False)}</section>"
        for fig in charts
    )
    title = html.escape(title)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><script type='text/javascript'>{get_plotlyjs()}</script>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{padding:2px 12px;text-align:left}.warning{color:#a40}</style></head><body>"
        f"<h1>{title}</h1>{intro_html}{sections}</body></html>"
    )


def render(summary: dict[str, Any]) -> str:
    """The whole page as text (see the module docstring)."""
    intro = f"<p>started {html.escape(summary['started_at'])}</p>{_table(summary)}"
    title = f"subnetkit loadtest: {summary.get('subnet') or summary['method']}"
    return page(title, intro, figures(summary))


def write_page(text: str, path: Path) -> None:
    """Write a page; a path that cannot be written is one line, not a traceback."""
    from subnetkit.core.errors import ConfigError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--report {path}: cannot write it: {exc.strerror}") from None


def write_report(summary: dict[str, Any], path: Path) -> None:
    write_page(render(summary), path)


__all__ = ["figures", "page", "render", "write_page", "write_report"]

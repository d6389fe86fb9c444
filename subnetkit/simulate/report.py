"""``subnetkit simulate --report FILE.html``: who the incentive mechanism paid, epoch by epoch.

One self-contained page (plotly.js inlined once, as the load-test report): mean incentive per
miner behaviour over the epochs, mean dividends per validator kind, emission per behaviour in
the last epoch, and every miner's final incentive coloured by behaviour (does every good miner
sit above every bad one?).
"""

from __future__ import annotations

import html
from typing import Any

from subnetkit.loadtest.report import page


def figures(doc: dict[str, Any]) -> list[Any]:
    import plotly.graph_objects as go

    epochs = doc["per_epoch"]
    x = [e["epoch"] for e in epochs]

    def lines(role: str, metric: str, title: str) -> Any:
        kinds = list(epochs[-1][role])
        traces = [
            go.Scatter(
                x=x, y=[e[role][k][metric]["mean"] for e in epochs], name=k, mode="lines+markers"
            )
            for k in kinds
        ]
        layout = {"title": title, "xaxis_title": "epoch", "yaxis_title": f"mean {metric}"}
        return go.Figure(traces, layout=layout)

    last = epochs[-1]["miners"]
    emission = go.Figure(
        [go.Bar(x=list(last), y=[v["emission_total"] for v in last.values()], name="emission")],
        layout={"title": "Emission per behaviour, last epoch", "yaxis_title": "alpha"},
    )
    miners = doc["final"]["miners"]
    kinds = list(dict.fromkeys(m["behaviour"] for m in miners))
    per_uid = go.Figure(
        [
            go.Scatter(
                x=[m["uid"] for m in miners if m["behaviour"] == k],
                y=[m["incentive"] for m in miners if m["behaviour"] == k],
                mode="markers",
                name=k,
            )
            for k in kinds
        ],
        layout={
            "title": "Final incentive of every miner",
            "xaxis_title": "uid",
            "yaxis_title": "incentive",
        },
    )
    return [
        lines("miners", "incentive", "Incentive by miner behaviour"),
        lines("validators", "dividends", "Dividends by validator kind"),
        emission,
        per_uid,
    ]


def render(doc: dict[str, Any]) -> str:
    counts = ", ".join(f"{k}={v}" for k, v in doc["miners"].items())
    vcounts = ", ".join(f"{k}={v}" for k, v in doc["validators"].items())
    intro = (
        f"<p>miners: {html.escape(counts)}; validators: {html.escape(vcounts)}; "
        f"{doc['epochs']} epochs of tempo {doc['tempo']}; "
        f"{'trusted (unsigned)' if doc['trusted'] else 'signed'} in-process transport; "
        f"{doc['seconds_per_epoch']:.2f} s per epoch</p>"
        f"<p>ranking by mean incentive: {html.escape(' > '.join(doc['ranking']))}</p>"
    )
    return page(f"subnetkit simulate: {doc['subnet']}", intro, figures(doc))


__all__ = ["figures", "render"]

"""``subnetkit loadtest``: signed load against a swarm it starts or against existing miners.

The flags map onto :class:`subnetkit.loadtest.runner.LoadTestOptions`; docs/load-testing.md is
the guide (models, coordinated omission, the JSON schema, thresholds). Exit codes: 0 when the
run completed and every ``--threshold`` held, 1 when a threshold failed (each failed one is
named on stderr), the usual one-line error codes for bad flags.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

_SUBNET = typer.Option(None, "--subnet", help="NAME[:VARIANT]: miners to start, and the request.")
_SWARM = typer.Option(None, "--swarm", help="Start N miners of --subnet to load.")
_BACKEND = typer.Option(
    "inprocess", "--backend", help="Where the swarm runs: inprocess|processes|ray."
)
_PROCS = typer.Option(None, "--swarm-processes", help="Worker processes (processes backend).")
_RAY_ADDRESS = typer.Option(
    None, "--ray-address", help="Ray backend: join the cluster at HEAD:PORT (none: start one)."
)
_RAY_HOSTS = typer.Option(
    None, "--ray-hosts", help="Ray backend: miner hosts, each with a load generator."
)
_RAY_STRATEGY = typer.Option(
    "SPREAD", "--ray-strategy", help="Ray backend: placement, SPREAD or STRICT_SPREAD."
)
_TARGET = typer.Option(None, "--target", help="HOTKEY@HOST:PORT of an existing miner (repeat).")
_CONC = typer.Option(None, "--concurrency", "-c", help="Closed model: requests in flight.")
_RATE = typer.Option(None, "--rate", "-r", help="Open model: requests (or rounds) per second.")
_STAGES = typer.Option(None, "--stages", help="Open-model ramps, e.g. 10s:100,30s:1000,10s:0.")
_DURATION = typer.Option(None, "--duration", "-d", help="Seconds of load (default 10).")
_FANOUT = typer.Option(None, "--fanout", help="Validator rounds: query N miners at once.")
_TIMEOUT = typer.Option(10.0, "--timeout", help="Deadline of one request (round), seconds.")
_INFLIGHT = typer.Option(10_000, "--max-inflight", help="Open model: cap; past it, drop.")
_METHOD = typer.Option(None, "--method", help="Synapse path, e.g. /subnets.echo.v1.Echo/Echo.")
_REQUEST = typer.Option(None, "--request-json", help="The request as JSON (or @file.json).")
_DEV_KEY = typer.Option("alice", "--dev-key", help="Sign as this dev account (alice, bob...).")
_WNAME = typer.Option(None, "--wallet-name", help="Sign with this wallet's hotkey instead.")
_WHOTKEY = typer.Option("default", "--wallet-hotkey", help="Hotkey name in the wallet.")
_WPATH = typer.Option(None, "--wallet-path", help="Wallets directory.")
_THRESH = typer.Option(None, "--threshold", help="e.g. 'p99<50ms', 'error_rate<0.01' (repeat).")
_WORKERS = typer.Option(1, "--workers", help="Load-generator processes (gRPC miners only).")
_FORMAT = typer.Option("text", "--format", help="text or json (ends with one JSON object).")
_REPORT = typer.Option(None, "--report", help="Write a self-contained HTML report here.")


def loadtest(
    subnet: str = _SUBNET,
    swarm: int = _SWARM,
    backend: str = _BACKEND,
    swarm_processes: int = _PROCS,
    ray_address: str = _RAY_ADDRESS,
    ray_hosts: int = _RAY_HOSTS,
    ray_strategy: str = _RAY_STRATEGY,
    target: list[str] = _TARGET,
    concurrency: int = _CONC,
    rate: float = _RATE,
    stages: str = _STAGES,
    duration: float = _DURATION,
    fanout: int = _FANOUT,
    timeout: float = _TIMEOUT,
    max_inflight: int = _INFLIGHT,
    method: str = _METHOD,
    request_json: str = _REQUEST,
    dev_key: str = _DEV_KEY,
    wallet_name: str = _WNAME,
    wallet_hotkey: str = _WHOTKEY,
    wallet_path: Path = _WPATH,
    threshold: list[str] = _THRESH,
    workers: int = _WORKERS,
    fmt: str = _FORMAT,
    report: Path = _REPORT,
) -> None:
    """Load miners with signed requests; report latency (HDR), rate, errors; check thresholds."""
    import asyncio

    from subnetkit.core.errors import ConfigError
    from subnetkit.core.lifecycle import install_event_loop_policy
    from subnetkit.loadtest.runner import LoadTestOptions, dumps
    from subnetkit.loadtest.schedule import plan_from_options
    from subnetkit.loadtest.summary import text_lines
    from subnetkit.loadtest.thresholds import parse_threshold

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown --format {fmt!r}: use 'text' or 'json'")
    plan = plan_from_options(
        concurrency=concurrency,
        rate=rate,
        stages=stages,
        duration=duration,
        fanout=fanout,
        timeout=timeout,
        max_inflight=max_inflight,
    )
    options = LoadTestOptions(
        plan=plan,
        subnet=subnet,
        swarm=swarm,
        backend=backend,
        swarm_processes=swarm_processes,
        targets=list(target or []),
        method=method,
        request_json=request_json,
        signer_ref=_signer_ref(dev_key, wallet_name, wallet_hotkey, wallet_path),
        thresholds=[parse_threshold(t) for t in threshold or []],
        workers=workers,
        ray_address=ray_address,
        ray_hosts=ray_hosts,
        ray_strategy=ray_strategy,
    )
    install_event_loop_policy()
    summary = asyncio.run(_run(options, live=fmt == "text" and sys.stderr.isatty()))
    if report is not None:
        from subnetkit.loadtest.report import write_report

        write_report(summary, report)
    if fmt == "json":
        typer.echo(dumps(summary))
    else:
        for line in text_lines(summary):
            typer.echo(line)
        if report is not None:
            typer.echo(f"report: {report}")
    failed = [t for t in summary["thresholds"] if not t["ok"]]
    for t in summary["thresholds"]:
        mark = "ok  " if t["ok"] else "FAIL"
        typer.echo(f"threshold {mark} {t['threshold']} (actual {t['actual']:g})", err=True)
    if failed:
        names = ", ".join(t["threshold"] for t in failed)
        typer.echo(f"thresholds failed: {names}", err=True)
        raise typer.Exit(1)


def _signer_ref(dev_key: str, wallet: str | None, hotkey: str, path: Path | None) -> list[str]:
    """Who signs, as the runner and its workers load it; checked here so a bad key is one line
    before anything starts."""
    from subnetkit.core.settings import WalletSettings
    from subnetkit.loadtest.runner import signer_from

    if wallet is None:
        ref = ["dev", dev_key]
    else:
        ref = ["wallet", wallet, hotkey, str(path or WalletSettings().path)]
    signer_from(ref)
    return ref


async def _run(options: Any, *, live: bool) -> dict[str, Any]:
    """The run, with a live rich display on a terminal (nothing when output is not a TTY)."""
    import asyncio

    from subnetkit.loadtest.runner import run_loadtest

    if not live:
        return await run_loadtest(options)
    from subnetkit.cli._loadtest_live import LiveDisplay

    display = LiveDisplay()
    ticker: asyncio.Task[None] | None = None

    def started(run: Any) -> None:
        nonlocal ticker
        ticker = asyncio.ensure_future(display.follow(run))

    try:
        return await run_loadtest(options, on_start=started)
    finally:
        if ticker is not None:
            ticker.cancel()
        display.close()


def register(app: typer.Typer) -> None:
    app.command("loadtest")(loadtest)

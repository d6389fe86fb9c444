"""``subnetkit simulate``: a whole subnet in one process, to see who its incentives pay.

Flags map onto :class:`subnetkit.simulate.runner.SimulationOptions`; docs/simulation.md is the
guide. ``--format json`` ends with one JSON object (schema ``subnetkit.simulate/v1``);
``--report FILE.html`` writes a self-contained page with the charts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

_SUBNET = typer.Option(..., "--subnet", help="echo, embedding, a module, or pkg.module:SUBNET.")
_MINERS = typer.Option(
    ..., "--miners", help="Behaviours and counts, e.g. good=64,noisy=32,random=16,offline=8."
)
_VALIDATORS = typer.Option("1", "--validators", help="N honest, or honest=2,lazy=1,random=1.")
_EPOCHS = typer.Option(3, "--epochs", help="Epochs to simulate (after a warm-up epoch).")
_TEMPO = typer.Option(10, "--tempo", help="Blocks per epoch.")
_TRUSTED = typer.Option(
    False, "--trusted", help="Trusted in-process mode: no request/response signatures (faster)."
)
_SEED = typer.Option(0, "--seed", help="Seed of the validators' and random miners' choices.")
_SAMPLE = typer.Option(None, "--sample-size", help="Miners an honest validator asks at once.")
_TIMEOUT = typer.Option(2.0, "--timeout", help="The validators' query timeout, seconds.")
_SLOW = typer.Option(0.5, "--slow-fraction", help="A slow miner answers after this x timeout.")
_BACKEND = typer.Option("inprocess", "--backend", help="Where the miners run: inprocess|ray.")
_RAY_ADDRESS = typer.Option(
    None, "--ray-address", help="Ray backend: join the cluster at HEAD:PORT (none: start one)."
)
_RAY_HOSTS = typer.Option(None, "--ray-hosts", help="Ray backend: miner hosts (one per node).")
_FORMAT = typer.Option("text", "--format", help="text or json (ends with one JSON object).")
_REPORT = typer.Option(None, "--report", help="Write a self-contained HTML report here.")


def simulate(
    subnet: str = _SUBNET,
    miners: str = _MINERS,
    validators: str = _VALIDATORS,
    epochs: int = _EPOCHS,
    tempo: int = _TEMPO,
    trusted: bool = _TRUSTED,
    seed: int = _SEED,
    sample_size: int = _SAMPLE,
    timeout: float = _TIMEOUT,
    slow_fraction: float = _SLOW,
    backend: str = _BACKEND,
    ray_address: str = _RAY_ADDRESS,
    ray_hosts: int = _RAY_HOSTS,
    fmt: str = _FORMAT,
    report: Path = _REPORT,
) -> None:
    """Run N miners with behaviours and M validators over a real in-process chain for K epochs;
    report each behaviour's incentive, dividends and emission."""
    import asyncio
    import json

    from subnetkit.core.errors import ConfigError
    from subnetkit.core.lifecycle import install_event_loop_policy
    from subnetkit.simulate.runner import SimulationOptions, run_simulation

    if fmt not in ("text", "json"):
        raise ConfigError(f"unknown --format {fmt!r}: use 'text' or 'json'")
    if tempo < 2:
        raise ConfigError("--tempo must be at least 2 blocks")
    options = SimulationOptions(
        subnet=subnet,
        miners=miners,
        validators=validators,
        epochs=epochs,
        tempo=tempo,
        trusted=trusted,
        seed=seed,
        sample_size=sample_size,
        timeout=timeout,
        slow_fraction=slow_fraction,
        backend=backend,
        ray_address=ray_address,
        ray_hosts=ray_hosts,
    )
    install_event_loop_policy()
    show = None if fmt == "json" else _print_epoch
    doc = asyncio.run(run_simulation(options, on_epoch=show))
    if report is not None:
        from subnetkit.loadtest.report import write_page
        from subnetkit.simulate.report import render

        write_page(render(doc), report)
    if fmt == "json":
        typer.echo(json.dumps(doc, separators=(",", ":")))
        return
    typer.echo(f"ranking by mean incentive: {' > '.join(doc['ranking'])}")
    typer.echo(f"{doc['seconds_per_epoch']:.2f} s per epoch")
    if report is not None:
        typer.echo(f"report: {report}")


def _print_epoch(figures: dict[str, Any]) -> None:
    miners = "  ".join(f"{k} {v['incentive']['mean']:.4f}" for k, v in figures["miners"].items())
    validators = "  ".join(
        f"{k} {v['dividends']['mean']:.4f}" for k, v in figures["validators"].items()
    )
    typer.echo(
        f"epoch {figures['epoch']} (block {figures['block']}, {figures['seconds']:.2f} s): "
        f"incentive {miners} | dividends {validators}"
    )
    for why in figures["weights_refused"]:
        typer.echo(f"  weights refused: {why}", err=True)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)

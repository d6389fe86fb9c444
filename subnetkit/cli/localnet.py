"""``subnetkit localnet up``: a dev chain, miners and validators on this machine, one command.

The command only parses flags and draws; :class:`subnetkit.localnet.Localnet` does the work. On
a terminal the metagraph is a live table redrawn every epoch; when stdout is not a terminal (CI,
pipes, ``--format json``) each epoch is one line on stderr instead, and stdout carries only the
final summary (one JSON object with ``--format json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from subnetkit.cli.options import OutputFormat, format_option

localnet_app = typer.Typer(
    help="A whole subnet on this machine: chain, miners, validators.", no_args_is_help=True
)

_SETS_HELP = "section.key=value passed as --set to every {role} (repeatable)."
_DATA_DIR = typer.Option(
    None,
    "--data-dir",
    help="Empty dir to keep everything in (default: a temp dir, removed after a clean run).",
)
_VALIDATOR_SET = typer.Option([], "--validator-set", help=_SETS_HELP.format(role="validator"))
_MINER_SET = typer.Option([], "--miner-set", help=_SETS_HELP.format(role="miner"))


@localnet_app.command("up")
def up(
    subnet: str = typer.Option("embedding", "--subnet", help="Built-in name or pkg.module:Class."),
    miners: int = typer.Option(3, "--miners", min=0, help="Miner processes to start."),
    validators: int = typer.Option(2, "--validators", min=0, help="Validator processes."),
    epochs: int = typer.Option(
        None, "--epochs", min=1, help="Stop after N epochs (default: run until Ctrl-C)."
    ),
    fmt: Annotated[OutputFormat, format_option("text or json (the final summary).")] = (
        OutputFormat.TEXT
    ),
    data_dir: Path = _DATA_DIR,
    tempo: int = typer.Option(None, "--tempo", help="Blocks per epoch (default 20)."),
    block_time: str = typer.Option("250ms", "--block-time", help="e.g. 250ms, 1s."),
    device: str = typer.Option(
        "auto", "--device", help="Torch device for every neuron: auto (cuda if any), cpu, cuda:N."
    ),
    commit_reveal: bool = typer.Option(
        None, "--commit-reveal/--no-commit-reveal", help="Override the chain default (on)."
    ),
    validator_set: list[str] = _VALIDATOR_SET,
    miner_set: list[str] = _MINER_SET,
    epoch_schedule: str = typer.Option(
        None, "--epoch-schedule", help="dynamic (the default, mainnet since May 2026) or legacy."
    ),
    root: bool = typer.Option(False, "--root", help="Root network: TAO on root, tao_weight."),
    delegation: bool = typer.Option(
        False, "--delegation", help="Validator take; nominators paid by stake."
    ),
    childkeys: bool = typer.Option(False, "--childkeys", help="Parent/child hotkeys."),
    tls: bool = typer.Option(
        False,
        "--tls",
        help="Mutual TLS: miners admit only validators' hotkey-bound certificates; validators "
        "use session mode.",
    ),
) -> None:
    """Start a local network; prints the metagraph every epoch and a summary at the end."""
    import asyncio

    from subnetkit.cli.chain import parse_duration
    from subnetkit.core.errors import ConfigError
    from subnetkit.core.lifecycle import install_event_loop_policy
    from subnetkit.localnet.runner import DEFAULT_TEMPO, LocalnetConfig

    for item in (*validator_set, *miner_set):
        if "=" not in item:
            raise ConfigError(f"--validator-set/--miner-set {item!r}: use section.key=value")
    cfg = LocalnetConfig(
        subnet=subnet,
        miners=miners,
        validators=validators,
        epochs=epochs,
        data_dir=data_dir,
        tempo=tempo if tempo is not None else DEFAULT_TEMPO,
        block_time=parse_duration(block_time),
        device=device,
        commit_reveal=commit_reveal,
        validator_sets=tuple(validator_set),
        miner_sets=tuple(miner_set),
        epoch_schedule=epoch_schedule,
        mechanisms=tuple(
            name
            for name, on in (("root", root), ("delegation", delegation), ("childkeys", childkeys))
            if on
        ),
        tls=tls,
    )
    cfg.check()
    install_event_loop_policy()
    summary = asyncio.run(_up(cfg, fmt))
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps(summary) + "\n")
        sys.stdout.flush()


async def _up(cfg: object, fmt: OutputFormat) -> dict[str, object]:
    import logging

    from rich.console import Console
    from rich.live import Live

    from subnetkit.localnet.report import EpochTracker, render_table
    from subnetkit.localnet.runner import Events, Localnet, LocalnetConfig, install_stop_signals

    assert isinstance(cfg, LocalnetConfig)
    # wallet creation logs a line per dev wallet; the progress lines already say it
    logging.getLogger("subnetkit.core.wallet").setLevel(logging.WARNING)
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    if not out.is_terminal:  # a pipe or file: no 80-column squeeze of the final table
        out = Console(highlight=False, width=160)
    live_wanted = fmt is OutputFormat.TEXT and out.is_terminal
    live: Live | None = None

    def title(tracker: EpochTracker) -> str:
        target = f"/{tracker.target_epochs}" if tracker.target_epochs else ""
        return (
            f"subnet {tracker.network.netuid} ({cfg.subnet})  epoch {tracker.epochs}{target}  "
            f"block {tracker.block}"
        )

    def progress(message: str) -> None:
        err.print(f"[dim]localnet:[/dim] {message}", soft_wrap=True)

    def started(tracker: EpochTracker) -> None:
        nonlocal live
        progress(f"all neurons up; data dir {net.data_dir}; Ctrl-C stops everything")
        if live_wanted:
            live = Live(render_table(tracker.rows, title(tracker)), console=out, auto_refresh=False)
            live.start(refresh=True)

    def epoch(tracker: EpochTracker) -> None:
        from subnetkit.localnet.report import epoch_line

        if live is not None:
            live.update(render_table(tracker.rows, title(tracker)), refresh=True)
        else:
            err.print(epoch_line(tracker), soft_wrap=True)

    net = Localnet(cfg, Events(progress=progress, epoch=epoch, started=started))
    remove_signals = install_stop_signals(net)
    try:
        summary = await net.run()
    finally:
        if live is not None:
            live.stop()
        remove_signals()
    if fmt is OutputFormat.TEXT:
        if live is None and net.tracker is not None:
            out.print(render_table(net.tracker.rows, title(net.tracker)))
        owner = summary["owner_emission"]
        out.print(
            f"{'stopped' if summary['interrupted'] else 'done'}: {summary['epochs']} epoch(s), "
            f"{summary['blocks']} blocks; owner emission {owner:.4f} α"
        )
    return summary


def register(app: typer.Typer) -> None:
    app.add_typer(localnet_app, name="localnet")

"""``subnetkit chain``: run the local chain (``start``), inspect it (``info``), drive a manual
one (``produce``), and check it (``replay``). Imports of the chain package happen inside the
commands."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import chain_command
from subnetkit.cli.options import DEFAULT_CHAIN_PORT
from subnetkit.cli.session import Connection
from subnetkit.core.errors import ConfigError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient

chain_app = typer.Typer(help="The local chain of record.", no_args_is_help=True)

DEFAULT_DATA_DIR = Path.home() / ".subnetkit" / "chain"


def parse_duration(text: str) -> float:
    """``"12s"``, ``"250ms"``, ``"0.25"`` (seconds) -> seconds."""
    raw = text.strip().lower()
    try:
        if raw.endswith("ms"):
            value = float(raw[:-2]) / 1000
        elif raw.endswith("s"):
            value = float(raw[:-1])
        else:
            value = float(raw)
    except ValueError:
        raise ConfigError(
            f"block time {text!r} is not a duration: use e.g. 12s, 250ms or 0.5"
        ) from None
    if value <= 0:
        raise ConfigError(f"block time {text!r} must be positive")
    return value


_DATA_DIR = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the SQLite chain lives.")
_GENESIS = typer.Option(None, "--genesis", help="Genesis JSON (non-dev chains).")
_READY = typer.Option(None, "--ready-file", help='Write {"port", "pid"} here once serving.')


def dev_genesis_options(
    epoch_schedule: str | None, root: bool, delegation: bool, childkeys: bool
) -> dict[str, object]:
    """The dev genesis fields the start flags ask for (empty: the plain dev profile)."""
    options: dict[str, object] = {}
    if epoch_schedule is not None:
        if epoch_schedule not in ("dynamic", "legacy"):
            raise ConfigError(f"--epoch-schedule {epoch_schedule!r}: use dynamic or legacy")
        options["epoch_schedule"] = epoch_schedule
    for name, on in (("root", root), ("delegation", delegation), ("childkeys", childkeys)):
        if on:
            options[name] = True
    return options


@chain_app.command("start")
def start(
    data_dir: Path = _DATA_DIR,
    block_time: str = typer.Option(None, "--block-time", help="e.g. 12s or 250ms (dev: 250ms)."),
    port: int = typer.Option(
        DEFAULT_CHAIN_PORT, "--port", min=0, max=65535, help="0 picks a free port."
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    dev: bool = typer.Option(False, "--dev", help="Fund //Alice..//Ferdie, Alice sudo, fast."),
    manual: bool = typer.Option(False, "--manual", help="Produce blocks only on request."),
    automine: bool = typer.Option(False, "--automine", help="With --manual: mine on submit."),
    genesis: Path = _GENESIS,
    ready_file: Path = _READY,
    keep_blocks: int = typer.Option(256, "--keep-blocks", help="Past blocks kept for queries."),
    epoch_schedule: str = typer.Option(
        None, "--epoch-schedule", help="With --dev: dynamic (mainnet since May 2026) or legacy."
    ),
    root: bool = typer.Option(False, "--root", help="With --dev: root network, tao_weight."),
    delegation: bool = typer.Option(
        False, "--delegation", help="With --dev: validator take, nominators paid by stake."
    ),
    childkeys: bool = typer.Option(False, "--childkeys", help="With --dev: child hotkeys."),
) -> None:
    """Start the chain service; prints {"port": .., "pid": ..} on stdout once it serves.

    The genesis options (--epoch-schedule, --root, --delegation, --childkeys) shape a new --dev
    chain; a chain that already exists keeps the genesis it was created with.
    """
    import asyncio

    from subnetkit.chain.genesis import GenesisConfig
    from subnetkit.chain.service import ChainService
    from subnetkit.core.lifecycle import install_event_loop_policy, run_until_signalled

    genesis_cfg = None
    if genesis is not None:
        try:
            genesis_cfg = GenesisConfig.from_json(genesis.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read genesis file {genesis}: {exc.strerror}") from None
    options = dev_genesis_options(epoch_schedule, root, delegation, childkeys)
    if options:
        if not dev or genesis is not None:
            raise ConfigError(
                "--epoch-schedule/--root/--delegation/--childkeys shape the --dev genesis; for "
                "another chain set epoch_schedule, root, delegation, childkeys in --genesis JSON"
            )
        from subnetkit.chain.genesis import dev_genesis

        genesis_cfg = dev_genesis(**options)
    seconds = parse_duration(block_time) if block_time else None
    if ready_file is not None and not ready_file.parent.is_dir():
        raise ConfigError(
            f"--ready-file {ready_file}: directory {ready_file.parent} does not exist; create it "
            "or write the ready file elsewhere"
        )
    service = ChainService(
        data_dir,
        port=port,
        block_time=seconds,
        dev=dev,
        manual=manual,
        automine=automine,
        host=host,
        genesis=genesis_cfg,
        keep_blocks=keep_blocks,
    )

    def ready() -> None:
        doc = json.dumps({"port": service.port, "pid": os.getpid(), "address": service.address})
        if ready_file is not None:
            tmp = ready_file.with_name(ready_file.name + ".tmp")
            tmp.write_text(doc)
            tmp.replace(ready_file)
        typer.echo(doc)

    from subnetkit.chain.epoch.process_tuning import tune_for_epochs

    # This process exists to apply blocks: one torch thread and retained allocations make
    # epochs ~10x steadier on shared cores (see chain/epoch/process_tuning.py).
    tune_for_epochs()
    install_event_loop_policy()
    asyncio.run(run_until_signalled(service, on_ready=ready))


@chain_app.command("info")
@chain_command()
def info(
    conn: Connection,
    address: Annotated[
        str | None, typer.Option("--address", "-a", hidden=True, help="= --chain-endpoint.")
    ] = None,
) -> None:
    """Head block, genesis, issuance and subnets of a running chain."""
    if address is not None:  # the older spelling of --chain-endpoint
        conn = replace(conn, endpoint=address)

    async def read(client: ChainClient) -> dict[str, Any]:
        chain_info = await client.info()
        subnets = await client.list_subnets()
        head = chain_info.head
        return {
            "address": conn.endpoint,
            "genesis_hash": chain_info.genesis_hash.hex(),
            "head": head.number,
            "head_hash": head.hash.hex(),
            "state_root": head.state_root.hex(),
            "block_time_s": chain_info.block_time_s,
            "manual": chain_info.manual,
            "dev": chain_info.dev,
            "sudo": chain_info.sudo,
            "total_issuance_rao": chain_info.total_issuance,
            "epoch_schedule": chain_info.epoch_schedule,
            "mechanisms": [
                name for name in ("root", "delegation", "childkeys") if getattr(chain_info, name)
            ],
            "root_stake_rao": chain_info.root_stake,
            "subnets": [
                {
                    "netuid": s.netuid,
                    "n": s.n,
                    "owner": s.owner_coldkey,
                    "tempo": s.tempo,
                    "blocks_until_next_epoch": s.blocks_until_next_epoch,
                    "price": s.pool.price,
                }
                for s in subnets
            ],
        }

    doc = conn.run(read)

    def text() -> None:
        typer.echo(
            f"chain {doc['address']}  head #{doc['head']}  genesis {str(doc['genesis_hash'])[:16]}"
        )
        typer.echo(f"  state root {doc['state_root']}")
        typer.echo(
            f"  block time {doc['block_time_s']}s{' (manual)' if doc['manual'] else ''}"
            f"  dev={doc['dev']}"
            f"  issuance {int(doc['total_issuance_rao']) / 1e9:.3f} TAO"
        )
        mechanisms = ", ".join(doc["mechanisms"]) or "none"
        typer.echo(f"  epoch schedule {doc['epoch_schedule']}  payout mechanisms: {mechanisms}")
        for s in doc["subnets"]:
            typer.echo(
                f"  subnet {s['netuid']}: n={s['n']} tempo={s['tempo']} next epoch in "
                f"{s['blocks_until_next_epoch']} blocks, price {s['price']:.4f}"
            )

    conn.emit(doc, text)


@chain_app.command("produce")
@chain_command()
def produce(
    conn: Connection,
    blocks: Annotated[
        int, typer.Option("--blocks", "-n", min=1, max=10_000, help="How many blocks.")
    ] = 1,
) -> None:
    """Produce blocks now on a chain started with --manual (drive a local chain to an epoch)."""

    async def work(client: ChainClient) -> dict[str, Any]:
        if not (await client.info()).manual:
            raise ConfigError(
                f"the chain at {conn.endpoint} makes blocks on a timer; only a chain started "
                "with `subnetkit chain start --manual` produces them on request"
            )
        head = await client.produce_block(blocks, timeout=conn.submit_timeout)
        return {"produced": blocks, "head": int(head.number), "head_hash": head.hash.hex()}

    doc = conn.run(work)
    conn.emit(doc, lambda: typer.echo(f"produced {blocks} block(s): head #{doc['head']}"))


@chain_app.command("replay")
def replay_cmd(data_dir: Path = _DATA_DIR) -> None:
    """Re-execute every stored block from genesis and check every state root."""
    import asyncio

    from subnetkit.chain.reexecute import reexecute

    report = asyncio.run(reexecute(data_dir))
    typer.echo(
        json.dumps(
            {
                "blocks": report.blocks,
                "extrinsics": report.extrinsics,
                "head": report.head,
                "state_root": report.state_root.hex(),
            }
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(chain_app, name="chain")

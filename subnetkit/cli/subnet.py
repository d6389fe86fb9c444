"""``subnetkit subnet create|list|show|hyperparams|set``: create, inspect and configure subnets.

Every command talks to a running chain (``--chain-endpoint``, env ``SUBNETKIT_CHAIN__ENDPOINT``)
and prints human text (rich tables) or, with ``--format json``, one JSON document on stdout.
Refusals are the chain's typed errors, re-raised unchanged, so the CLI's ``main()`` prints one
line such as ``error[insufficient_balance]: ...`` with the chain's code and a non-zero exit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.options import HotkeyAddress, NetuidArgument
from subnetkit.cli.output import fmt_tao, new_table, rich_console, short_address
from subnetkit.cli.parsing import check_address, parse_hyperparameter_value
from subnetkit.cli.prechecks import need_balance, need_subnet
from subnetkit.cli.session import Connection, Keys
from subnetkit.core.errors import ChainError, ConfigError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer

subnet_app = typer.Typer(help="Create, inspect and configure subnets.", no_args_is_help=True)


def _subnet_doc(info: Any) -> dict[str, Any]:
    return {
        "netuid": info.netuid,
        "n": info.n,
        "max_allowed_uids": info.hyperparameters.get("max_allowed_uids"),
        "owner_coldkey": info.owner_coldkey,
        "owner_hotkey": info.owner_hotkey,
        "registered_at": info.registered_at,
        "tempo": info.tempo,
        "blocks_until_next_epoch": info.blocks_until_next_epoch,
        "last_epoch_block": info.last_epoch_block,
        "burn_rao": info.burn,
        "pool": {
            "tao_in_rao": info.pool.tao_in,
            "alpha_in": info.pool.alpha_in,
            "alpha_out": info.pool.alpha_out,
            "price": info.pool.price,
        },
        "pending_emission_rao": {
            "server": info.pending_server,
            "validator": info.pending_validator,
            "owner": info.pending_owner,
        },
        "block": info.block,
    }


@subnet_app.command("create")
@chain_command(KeyOptions.SIGNING)
def subnet_create(conn: Connection, keys: Keys, hotkey: HotkeyAddress = None) -> None:
    """Create a subnet owned by the coldkey (pays the lock cost); the hotkey becomes uid 0."""
    owner_hotkey = check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()

    async def check(client: ChainClient, address: str) -> None:
        lock = (await client.info()).subnet_lock_cost
        await need_balance(client, address, lock, "creating a subnet (its lock cost)")

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        lock = (await client.info()).subnet_lock_cost
        netuid = await client.create_subnet(coldkey, owner_hotkey, timeout=conn.submit_timeout)
        return {
            "netuid": netuid,
            "owner_coldkey": coldkey.ss58,
            "owner_hotkey": owner_hotkey,
            "lock_cost_rao": lock,
        }

    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"created subnet {doc['netuid']}: owner {doc['owner_coldkey']}, hotkey "
            f"{doc['owner_hotkey']} (uid 0), locked {fmt_tao(doc['lock_cost_rao'])} TAO"
        ),
    )


@subnet_app.command("list")
@chain_command()
def subnet_list(conn: Connection) -> None:
    """Every subnet with its size, owner, epoch timing and pool price."""
    subnets = conn.run(lambda client: client.list_subnets())
    docs = [_subnet_doc(s) for s in subnets]

    def text() -> None:
        if not docs:
            typer.echo("no subnets yet: create one with `subnetkit subnet create`")
            return
        table = new_table(
            "subnets", ["netuid", "n/max", "owner", "tempo", "next epoch", "price", "burn TAO"]
        )
        for d in docs:
            table.add_row(
                str(d["netuid"]),
                f"{d['n']}/{d['max_allowed_uids']}",
                short_address(d["owner_coldkey"]),
                str(d["tempo"]),
                f"in {d['blocks_until_next_epoch']}",
                f"{d['pool']['price']:.4f}",
                fmt_tao(d["burn_rao"]),
            )
        rich_console().print(table)

    conn.emit({"subnets": docs}, text)


@subnet_app.command("show")
@chain_command()
def subnet_show(conn: Connection, netuid: NetuidArgument) -> None:
    """One subnet: owner, size, epoch timing, pool and pending emission."""
    doc = _subnet_doc(conn.run(lambda client: client.subnet_info(netuid)))

    def text() -> None:
        pool, pending = doc["pool"], doc["pending_emission_rao"]
        lines = [
            f"subnet {doc['netuid']} at block {doc['block']}",
            f"  owner coldkey  {doc['owner_coldkey']}",
            f"  owner hotkey   {doc['owner_hotkey']}",
            f"  neurons        {doc['n']} / {doc['max_allowed_uids']}",
            f"  tempo          {doc['tempo']} (next epoch in {doc['blocks_until_next_epoch']} "
            f"blocks, last at {doc['last_epoch_block']})",
            f"  burn           {fmt_tao(doc['burn_rao'])} TAO per registration",
            f"  pool           {fmt_tao(pool['tao_in_rao'])} TAO / {fmt_tao(pool['alpha_in'])} "
            f"alpha, price {pool['price']:.6f}",
            f"  pending        server {fmt_tao(pending['server'])}, validator "
            f"{fmt_tao(pending['validator'])}, owner {fmt_tao(pending['owner'])} (alpha)",
        ]
        typer.echo("\n".join(lines))

    conn.emit(doc, text)


@subnet_app.command("hyperparams")
@chain_command()
def subnet_hyperparams(conn: Connection, netuid: NetuidArgument) -> None:
    """A subnet's hyperparameters, with who may set each and within which bounds."""
    from subnetkit.chain.hyperparams import SPECS

    values = conn.run(lambda client: client.hyperparameters(netuid))
    rows = []
    for name in sorted(values):
        spec = SPECS.get(name)
        rows.append(
            {
                "name": name,
                "value": values[name],
                "settable_by": None
                if spec is None
                else ("owner" if spec.owner_settable else "sudo"),
                "range": None if spec is None else [spec.lo, spec.hi],
                "owner_range": None
                if spec is None or not spec.owner_settable
                else [spec.owner_lo, spec.owner_hi],
                "doc": "" if spec is None else spec.doc,
            }
        )

    def text() -> None:
        table = new_table(
            f"subnet {netuid} hyperparameters", ["name", "value", "set by", "range", "meaning"]
        )
        for r in rows:
            bounds = r["owner_range"] or r["range"]
            table.add_row(
                r["name"],
                str(r["value"]),
                r["settable_by"] or "?",
                "" if bounds is None else f"{bounds[0]}..{bounds[1]}",
                r["doc"],
            )
        rich_console().print(table)

    conn.emit({"netuid": netuid, "hyperparameters": rows}, text)


@subnet_app.command("set")
@chain_command(KeyOptions.COLDKEY)
def subnet_set(
    conn: Connection,
    keys: Keys,
    netuid: NetuidArgument,
    name: Annotated[str, typer.Argument(help="Hyperparameter name (see `subnet hyperparams`).")],
    value: Annotated[str, typer.Argument(help="New integer value (raw chain units).")],
) -> None:
    """Set a hyperparameter as the subnet owner's coldkey (owner-settable ones) or the sudo key."""
    number = parse_hyperparameter_value(name, value)

    async def check(client: ChainClient, address: str) -> None:
        await need_subnet(client, netuid)

    async def work(client: ChainClient, signer: Signer) -> dict[str, Any]:
        receipt = await client.set_hyperparameter(
            signer, netuid, name, number, timeout=conn.submit_timeout
        )
        return {"netuid": netuid, "name": name, "value": number, "block": receipt.block_number}

    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(f"subnet {netuid}: {name} = {number} (block {doc['block']})"),
    )


@subnet_app.command("trigger-epoch")
@chain_command(KeyOptions.COLDKEY)
def subnet_trigger_epoch(
    conn: Connection,
    keys: Keys,
    netuid: NetuidArgument,
    now: Annotated[
        bool,
        typer.Option("--now", help="Manual chains: produce the block the epoch runs in now."),
    ] = False,
) -> None:
    """Run an epoch of the subnet at the next block instead of waiting out its tempo (dynamic
    epoch schedule; the owner coldkey or the sudo key)."""

    async def check(client: ChainClient, address: str) -> None:
        info = await client.info()
        sn = await client.subnet_info(netuid)
        if info.epoch_schedule != "dynamic":
            raise ChainError(
                f"this chain runs the {info.epoch_schedule} epoch schedule: epochs fall on fixed "
                "blocks and cannot be triggered (`subnetkit chain start --dev --epoch-schedule "
                "dynamic`)",
                code="legacy_schedule",
            )
        if address not in (sn.owner_coldkey, info.sudo):
            raise ChainError(
                f"{address} is neither subnet {netuid}'s owner coldkey ({sn.owner_coldkey}) nor "
                "the sudo key: only they may trigger its epochs",
                code="not_owner",
            )
        if sn.tempo == 0:
            raise ChainError(f"subnet {netuid} has tempo 0: it runs no epochs", code="epochs_off")
        if now and not info.manual:
            raise ConfigError(
                "--now needs a manual chain; this one makes blocks on a timer, and the epoch "
                "runs in its next block by itself: leave out --now"
            )

    async def work(client: ChainClient, signer: Signer) -> dict[str, Any]:
        due = await client.trigger_epoch(signer, netuid, timeout=conn.submit_timeout)
        ran = None
        if now:
            head = (await client.head()).number
            if due > head:
                await client.produce_block(due - head)
            ran = int((await client.subnet_info(netuid)).last_epoch_block)
        return {"netuid": netuid, "due_block": due, "last_epoch_block": ran}

    doc = conn.run_signed(keys, check, work)
    ran = doc["last_epoch_block"]
    conn.emit(
        doc,
        lambda: typer.echo(
            f"subnet {netuid}: epoch triggered for block {doc['due_block']}"
            + ("" if ran is None else f"; its last epoch ran at block {ran}")
        ),
    )


def register(app: typer.Typer) -> None:
    app.add_typer(subnet_app, name="subnet")

"""``subnetkit metagraph NETUID``: a subnet's metagraph at one block, as a table or JSON."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from subnetkit.cli.options import (
    DEFAULT_CHAIN_ENDPOINT,
    ChainEndpoint,
    Format,
    NetuidArgument,
    OutputFormat,
    Timeout,
)
from subnetkit.cli.output import new_table, rich_console, short_address
from subnetkit.cli.session import Connection


def metagraph_doc(mg: Any) -> dict[str, Any]:
    """A JSON-ready view of a :class:`chain.metagraph.Metagraph` (one dict per uid)."""
    columns = {
        "stake": mg.stake.tolist(),
        "consensus": mg.consensus.tolist(),
        "incentive": mg.incentive.tolist(),
        "dividends": mg.dividends.tolist(),
        "emission": mg.emission.tolist(),
        "validator_trust": mg.validator_trust.tolist(),
        "validator_permit": mg.validator_permit.tolist(),
        "active": mg.active.tolist(),
        "last_update": mg.last_update.tolist(),
        "block_at_registration": mg.block_at_registration.tolist(),
    }
    neurons = []
    for uid in range(mg.n):
        axon = mg.axons[uid]
        row: dict[str, Any] = {"uid": uid, "hotkey": mg.hotkeys[uid], "coldkey": mg.coldkeys[uid]}
        row.update({name: values[uid] for name, values in columns.items()})
        row["axon"] = axon.address if axon.is_serving else None
        neurons.append(row)
    doc: dict[str, Any] = {
        "netuid": mg.netuid,
        "block": mg.block,
        "block_hash": mg.block_hash.hex(),
        "n": mg.n,
        "tempo": mg.tempo,
        "blocks_until_next_epoch": mg.blocks_until_next_epoch,
        "owner_hotkey": mg.owner_hotkey,
        "owner_coldkey": mg.owner_coldkey,
        "neurons": neurons,
    }
    if mg.with_weights:
        doc["weights_u16"] = mg.weights_u16.tolist()
    return doc


def metagraph_cmd(
    netuid: NetuidArgument,
    weights: Annotated[bool, typer.Option("--weights", help="Include the u16 weight matrix.")] = (
        False
    ),
    at_block: Annotated[int, typer.Option("--block", min=0, help="A past block (0: head).")] = 0,
    endpoint: ChainEndpoint = DEFAULT_CHAIN_ENDPOINT,
    timeout: Timeout = 10.0,
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """The subnet's metagraph at one block: stake, consensus, incentive, dividends, emission."""
    conn = Connection(endpoint, timeout, fmt)
    mg = conn.run(lambda client: client.metagraph(netuid, weights, at_block=at_block))
    doc = metagraph_doc(mg)

    def text() -> None:
        table = new_table(
            f"subnet {netuid} metagraph at block {doc['block']} (n={doc['n']}, tempo "
            f"{doc['tempo']}, next epoch in {doc['blocks_until_next_epoch']})",
            ["uid", "hotkey", "coldkey", "stake", "C", "I", "D", "E", "Tv", "VP", "act", "upd"],
        )
        for r in doc["neurons"]:
            table.add_row(
                str(r["uid"]),
                short_address(r["hotkey"]),
                short_address(r["coldkey"]),
                f"{r['stake']:.4f}",
                f"{r['consensus']:.4f}",
                f"{r['incentive']:.4f}",
                f"{r['dividends']:.4f}",
                f"{r['emission']:.4f}",
                f"{r['validator_trust']:.4f}",
                "*" if r["validator_permit"] else "",
                "*" if r["active"] else "",
                str(r["last_update"]),
            )
        rich_console().print(table)

    conn.emit(doc, text)


def register(app: typer.Typer) -> None:
    app.command("metagraph")(metagraph_cmd)

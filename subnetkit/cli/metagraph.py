"""``subnetkit metagraph NETUID``: a subnet's metagraph at one block, as a table or JSON."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import typer

from subnetkit.cli.chain_command import chain_command
from subnetkit.cli.options import NetuidArgument
from subnetkit.cli.output import new_table, rich_console, short_address
from subnetkit.cli.session import Connection
from subnetkit.core.errors import ConfigError

RAO = 1e9
U16 = 65535.0


def decode_weights(matrix: Any, n: int) -> list[list[int]]:
    """A ``SparseU16Matrix`` as n rows of n u16 weights, with numpy (torch stays unimported)."""
    rows = [[0] * n for _ in range(n)]
    if n == 0 or not matrix.row_lengths:
        return rows
    lengths = np.frombuffer(matrix.row_lengths, dtype="<u4")
    cols = np.frombuffer(matrix.cols, dtype="<u2")
    values = np.frombuffer(matrix.values, dtype="<u2")
    at = 0
    for row, length in enumerate(lengths.tolist()[:n]):
        for col, value in zip(
            cols[at : at + length].tolist(), values[at : at + length].tolist(), strict=True
        ):
            if col < n:
                rows[row][col] = value
        at += length
    return rows


def metagraph_doc(snap: Any) -> dict[str, Any]:
    """A JSON-ready view of a ``MetagraphSnapshot`` (one dict per uid), in the units of
    :class:`chain.metagraph.Metagraph` (TAO, 0..1 fractions) but built without torch, so a
    read-only command does not pay torch's import."""
    n = len(snap.hotkeys)
    columns = {
        "stake": [v / RAO for v in snap.total_stake],
        "consensus": [v / U16 for v in snap.consensus],
        "incentive": [v / U16 for v in snap.incentive],
        "dividends": [v / U16 for v in snap.dividends],
        "emission": [v / RAO for v in snap.emission],
        "validator_trust": [v / U16 for v in snap.validator_trust],
        "validator_permit": [bool(v) for v in snap.validator_permit],
        "active": [bool(v) for v in snap.active],
        "last_update": [int(v) for v in snap.last_update],
        "block_at_registration": [int(v) for v in snap.block_at_registration],
    }
    neurons = []
    for uid in range(n):
        ep = snap.endpoints[uid] if uid < len(snap.endpoints) else None
        row: dict[str, Any] = {
            "uid": uid,
            "hotkey": snap.hotkeys[uid],
            "coldkey": snap.coldkeys[uid],
        }
        row.update({name: values[uid] for name, values in columns.items()})
        serving = ep is not None and bool(ep.ip) and ep.port > 0
        if serving:
            assert ep is not None
            row["axon"] = f"[{ep.ip}]:{ep.port}" if ":" in ep.ip else f"{ep.ip}:{ep.port}"
        else:
            row["axon"] = None
        neurons.append(row)
    sub = snap.subnet
    doc: dict[str, Any] = {
        "netuid": snap.netuid,
        "block": snap.block,
        "block_hash": bytes(snap.block_hash).hex(),
        "n": n,
        "tempo": int(sub.tempo),
        "blocks_until_next_epoch": int(sub.blocks_until_next_epoch),
        "owner_hotkey": sub.owner_hotkey,
        "owner_coldkey": sub.owner_coldkey,
        "neurons": neurons,
    }
    if snap.with_weights:
        doc["weights_u16"] = decode_weights(snap.weights, n)
    return doc


@chain_command()
def metagraph_cmd(
    conn: Connection,
    netuid: NetuidArgument,
    weights: Annotated[bool, typer.Option("--weights", help="Include the u16 weight matrix.")] = (
        False
    ),
    at_block: Annotated[int, typer.Option("--block", min=0, help="A past block (0: head).")] = 0,
) -> None:
    """The subnet's metagraph at one block: stake, consensus, incentive, dividends, emission."""
    snap = conn.run(lambda client: client.metagraph_snapshot(netuid, weights, at_block=at_block))
    doc = metagraph_doc(snap)

    def text() -> None:
        table = new_table(
            f"subnet {netuid} metagraph at block {doc['block']} (n={doc['n']}, tempo "
            f"{doc['tempo']}, next epoch in {doc['blocks_until_next_epoch']})",
            [
                "uid",
                "hotkey",
                "coldkey",
                "axon",
                "stake",
                "C",
                "I",
                "D",
                "E",
                "Tv",
                "VP",
                "act",
                "upd",
            ],
        )
        for r in doc["neurons"]:
            table.add_row(
                str(r["uid"]),
                short_address(r["hotkey"]),
                short_address(r["coldkey"]),
                r["axon"] or "-",
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


@chain_command()
def weights_cmd(
    conn: Connection,
    netuid: NetuidArgument,
    uid: Annotated[
        int | None, typer.Option("--uid", min=0, help="Only this validator's row.")
    ] = None,
    hotkey: Annotated[
        str | None, typer.Option("--hotkey", help="Only this validator's row (SS58).")
    ] = None,
    at_block: Annotated[int, typer.Option("--block", min=0, help="A past block (0: head).")] = 0,
) -> None:
    """The weights validators set on a subnet: one row per validator, as stored (u16) and as
    shares of the row (what the epoch uses)."""
    snap = conn.run(lambda client: client.metagraph_snapshot(netuid, True, at_block=at_block))
    doc = metagraph_doc(snap)
    hotkeys = [r["hotkey"] for r in doc["neurons"]]
    if hotkey is not None:
        if hotkey not in hotkeys:
            raise ConfigError(f"hotkey {hotkey} is not registered on subnet {netuid}")
        uid = hotkeys.index(hotkey)
    if uid is not None and uid >= doc["n"]:
        raise ConfigError(f"subnet {netuid} has no uid {uid} (n={doc['n']})")
    rows = []
    for row_uid, row in enumerate(doc["weights_u16"]):
        if (uid is not None and row_uid != uid) or (uid is None and not any(row)):
            continue
        total = sum(row)
        rows.append(
            {
                "uid": row_uid,
                "hotkey": hotkeys[row_uid],
                "last_update": doc["neurons"][row_uid]["last_update"],
                "weights": [
                    {"uid": to, "u16": w, "share": w / total if total else 0.0}
                    for to, w in enumerate(row)
                    if w
                ],
            }
        )
    out = {"netuid": netuid, "block": doc["block"], "validators": rows}

    def text() -> None:
        if not rows:
            typer.echo(f"no weights set on subnet {netuid} at block {doc['block']}")
            return
        table = new_table(
            f"subnet {netuid} weights at block {doc['block']}",
            ["validator", "hotkey", "set at", "weights (uid: share)"],
        )
        for r in rows:
            shares = ", ".join(f"{w['uid']}: {w['share']:.3f}" for w in r["weights"]) or "-"
            table.add_row(str(r["uid"]), short_address(r["hotkey"]), str(r["last_update"]), shares)
        rich_console().print(table)

    conn.emit(out, text)


def register(app: typer.Typer) -> None:
    app.command("metagraph")(metagraph_cmd)
    app.command("weights")(weights_cmd)

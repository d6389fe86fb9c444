"""``subnetkit stake children HOTKEY --netuid N``: read back a hotkey's child keys.

``stake set-children`` and ``stake set-childkey-take`` change them; this shows what is in force
(the chain's ``GetChildren``): the children the hotkey lends stake weight to, the parents lending
to it, and the childkey take it keeps as a child. Read-only, so it needs no wallet or password.
Shares are printed as decimals of the parent's stake weight beside the raw /u64::MAX value the
chain stores, so a script can compare them exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import chain_command
from subnetkit.cli.options import Netuid
from subnetkit.cli.parsing import TAKE_DENOMINATOR, U64_MAX, check_address, fmt_take
from subnetkit.cli.session import Connection
from subnetkit.cli.stake import stake_app

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient

AtBlock = Annotated[int, typer.Option("--block", min=0, help="A past block (0: head).")]


def _shares(rows: Any) -> list[dict[str, Any]]:
    """``ChildShare`` / ``ParentShare`` messages as JSON rows: the raw proportion and its
    decimal share (the raw value is exact; the decimal is for people)."""
    return [
        {"hotkey": row.hotkey, "proportion": int(row.proportion), "share": row.proportion / U64_MAX}
        for row in rows
    ]


def _text(doc: dict[str, Any]) -> None:
    """One line for the hotkey, then one per child and per parent (greppable, no table)."""
    if not doc["childkeys"]:
        typer.echo("this chain runs without childkeys: no hotkey has children or parents")
        return
    take = doc["childkey_take"]
    typer.echo(
        f"hotkey {doc['hotkey']} on subnet {doc['netuid']} at block {doc['block']}: "
        f"{len(doc['children'])} children, {len(doc['parents'])} parents, "
        f"childkey take {fmt_take(take)} ({take}/{TAKE_DENOMINATOR})"
    )
    for role in ("child", "parent"):
        for row in doc["children" if role == "child" else "parents"]:
            typer.echo(
                f"{role:<6} {row['hotkey']} {row['share']:.6f} ({row['proportion']}/{U64_MAX})"
            )


@stake_app.command("children")
@chain_command()
def children_cmd(
    conn: Connection,
    hotkey: Annotated[str, typer.Argument(help="Hotkey SS58 address.")],
    netuid: Netuid,
    at_block: AtBlock = 0,
) -> None:
    """A hotkey's children and parents on a subnet (shares of the parent's stake weight) and
    its childkey take. Needs no password."""
    check_address(hotkey, "HOTKEY")

    async def work(client: ChainClient) -> dict[str, Any]:
        resp = await client.children(netuid, hotkey, at_block=at_block)
        return {
            "hotkey": hotkey,
            "netuid": netuid,
            "block": int(resp.block),
            "childkeys": resp.childkeys,
            "children": _shares(resp.children),
            "parents": _shares(resp.parents),
            "childkey_take": int(resp.childkey_take),
        }

    doc = conn.run(work)
    conn.emit(doc, lambda: _text(doc))


def register(app: typer.Typer) -> None:
    """The command joins the ``stake`` sub-app (registered by :mod:`subnetkit.cli.stake`)."""

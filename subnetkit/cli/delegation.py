"""``subnetkit stake take|set-take|set-children|revoke-children|set-childkey-take``: the payout
mechanisms a hotkey's owner controls (docs/epoch.md §10): the validator (delegate) take, child
hotkeys that borrow a share of the parent's stake weight, and the childkey take a child keeps.

Each write is signed by the coldkey that registered the hotkey. Everything the chain would
refuse that public state can show (the mechanism off, a hotkey not registered or owned by
another coldkey, a take above 18%, shares that do not add up) is refused before the coldkey is
decrypted, with the chain's own error code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.options import HotkeyAddress, Netuid
from subnetkit.cli.parsing import (
    TAKE_DENOMINATOR,
    check_address,
    fmt_take,
    parse_children,
    parse_take,
)
from subnetkit.cli.prechecks import need_hotkey_owner, need_mechanism, need_subnet
from subnetkit.cli.session import Connection, Keys
from subnetkit.cli.stake import stake_app

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer

Take = Annotated[
    str,
    typer.Option("--take", help="A share, e.g. 0.09 or 9%; the chain allows at most 18%."),
]
Children = Annotated[
    list[str],
    typer.Option(
        "--child",
        help="CHILD_SS58=SHARE (e.g. 5F...=0.25 or =25%), once per child, at most five; the "
        "shares add up to at most 1.",
    ),
]


def _target(hotkey: str | None, keys: Keys) -> str:
    return check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()


def _owner_checks(
    mechanism: str, hotkey: str, netuid: int | None = None
) -> Callable[[ChainClient, str], Awaitable[None]]:
    """The public checks of a call changing ``hotkey`` (on ``netuid``): the chain runs the
    mechanism, the subnet exists, the signing coldkey registered the hotkey. (The fee is left
    to the chain: its fee schedule comes from the genesis and no query tells it.)"""

    async def check(client: ChainClient, address: str) -> None:
        await need_mechanism(client, mechanism)
        if netuid is not None:
            await need_subnet(client, netuid)
        await need_hotkey_owner(client, address, hotkey, netuid)

    return check


@stake_app.command("take")
@chain_command()
def take_cmd(
    conn: Connection,
    hotkey: Annotated[str, typer.Argument(help="Hotkey SS58 address.")],
) -> None:
    """A hotkey's delegate take: the share of its validator payout its owner keeps before
    nominators share the rest. Needs no password."""
    check_address(hotkey, "HOTKEY")

    async def work(client: ChainClient) -> dict[str, Any]:
        delegation = bool((await client.info()).delegation)
        detail = await client.stake_detail(0, hotkey, "")
        take = int(detail.delegate_take)
        return {"hotkey": hotkey, "delegation": delegation, "take": take, "block": detail.block}

    doc = conn.run(work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"delegate take of {hotkey}: {fmt_take(doc['take'])} "
            f"({doc['take']}/{TAKE_DENOMINATOR}) at block {doc['block']}"
            if doc["delegation"]
            else "this chain runs without delegation: validators keep all of their payout"
        ),
    )


@stake_app.command("set-take")
@chain_command(KeyOptions.SIGNING)
def set_take_cmd(conn: Connection, keys: Keys, take: Take, hotkey: HotkeyAddress = None) -> None:
    """Set the delegate take of a hotkey the coldkey registered (delegation chains)."""
    units = parse_take(take)
    target = _target(hotkey, keys)

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        receipt = await client.set_delegate_take(
            coldkey, target, units, timeout=conn.submit_timeout
        )
        detail = await client.stake_detail(0, target, "")
        return {"hotkey": target, "take": int(detail.delegate_take), "block": receipt.block_number}

    doc = conn.run_signed(keys, _owner_checks("delegation", target), work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"delegate take of {target} is now {fmt_take(doc['take'])} "
            f"({doc['take']}/{TAKE_DENOMINATOR}), block {doc['block']}"
        ),
    )


def _set_children(
    conn: Connection, keys: Keys, netuid: int, hotkey: str | None, children: list[str]
) -> None:
    """Replace the parent's children on ``netuid`` (none: revoke them all)."""
    parent = _target(hotkey, keys)
    shares = parse_children(children, parent)

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        receipt = await client.set_children(
            coldkey, netuid, parent, shares, timeout=conn.submit_timeout
        )
        return {
            "netuid": netuid,
            "hotkey": parent,
            "children": [{"hotkey": c, "proportion": p} for c, p in shares],
            "block": receipt.block_number,
        }

    check = _owner_checks("childkeys", parent, netuid)
    doc = conn.run_signed(keys, check, work)

    def text() -> None:
        if not shares:
            typer.echo(f"revoked the children of {parent} on subnet {netuid}, block {doc['block']}")
            return
        listed = ", ".join(f"{c} {p / 2**64:.2%}" for c, p in shares)
        typer.echo(f"children of {parent} on subnet {netuid}: {listed} (block {doc['block']})")

    conn.emit(doc, text)


@stake_app.command("set-children")
@chain_command(KeyOptions.SIGNING)
def set_children_cmd(
    conn: Connection, keys: Keys, netuid: Netuid, child: Children, hotkey: HotkeyAddress = None
) -> None:
    """Lend shares of a parent hotkey's stake weight on a subnet to child hotkeys (replaces
    the parent's children; childkeys chains)."""
    _set_children(conn, keys, netuid, hotkey, child)


@stake_app.command("revoke-children")
@chain_command(KeyOptions.SIGNING)
def revoke_children_cmd(
    conn: Connection, keys: Keys, netuid: Netuid, hotkey: HotkeyAddress = None
) -> None:
    """Take back everything a parent hotkey lends to children on a subnet."""
    _set_children(conn, keys, netuid, hotkey, [])


@stake_app.command("set-childkey-take")
@chain_command(KeyOptions.SIGNING)
def set_childkey_take_cmd(
    conn: Connection, keys: Keys, netuid: Netuid, take: Take, hotkey: HotkeyAddress = None
) -> None:
    """Set the share a child hotkey keeps of what its parents earn through it on a subnet."""
    units = parse_take(take)
    target = _target(hotkey, keys)

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        receipt = await client.set_childkey_take(
            coldkey, netuid, target, units, timeout=conn.submit_timeout
        )
        return {"netuid": netuid, "hotkey": target, "take": units, "block": receipt.block_number}

    check = _owner_checks("childkeys", target, netuid)
    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"childkey take of {target} on subnet {netuid} is now {fmt_take(units)} "
            f"({units}/{TAKE_DENOMINATOR}), block {doc['block']}"
        ),
    )


def register(app: typer.Typer) -> None:
    """The commands join the ``stake`` sub-app (registered by :mod:`subnetkit.cli.stake`)."""

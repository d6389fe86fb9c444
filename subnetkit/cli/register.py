"""``subnetkit register``: register a hotkey on a subnet, paying its burn from the coldkey."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.options import HotkeyAddress, Netuid
from subnetkit.cli.output import fmt_tao
from subnetkit.cli.parsing import check_address
from subnetkit.cli.prechecks import need_balance, need_subnet, need_unregistered
from subnetkit.cli.session import Connection, Keys

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer


@chain_command(KeyOptions.SIGNING)
def register_cmd(
    conn: Connection, keys: Keys, netuid: Netuid, hotkey: HotkeyAddress = None
) -> None:
    """Register a hotkey on a subnet; the coldkey pays the subnet's burn."""
    target = check_address(hotkey, "--hotkey") if hotkey else keys.hotkey_address()
    burn = 0

    async def check(client: ChainClient, address: str) -> None:
        nonlocal burn
        burn = await need_subnet(client, netuid)
        await need_unregistered(client, netuid, target)
        await need_balance(client, address, burn, f"registering on subnet {netuid}")

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        uid = await client.burned_register(coldkey, netuid, target, timeout=conn.submit_timeout)
        return {
            "netuid": netuid,
            "uid": uid,
            "hotkey": target,
            "coldkey": coldkey.ss58,
            "burn_rao": burn,
        }

    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"registered {target} on subnet {netuid} as uid {doc['uid']} "
            f"(burned {fmt_tao(doc['burn_rao'])} TAO from {doc['coldkey']})"
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("register")(register_cmd)

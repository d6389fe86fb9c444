"""``subnetkit transfer``: send free TAO from the coldkey to another address."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.output import fmt_tao
from subnetkit.cli.parsing import check_address, parse_tao
from subnetkit.cli.prechecks import need_balance
from subnetkit.cli.session import Connection, Keys

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer


@chain_command(KeyOptions.COLDKEY)
def transfer_cmd(
    conn: Connection,
    keys: Keys,
    dest: Annotated[str, typer.Option("--dest", help="Destination SS58 address.")],
    amount: Annotated[str, typer.Option("--amount", help="TAO to send, e.g. 1.5.")],
) -> None:
    """Send free TAO from the coldkey to another address."""
    rao = parse_tao(amount)
    check_address(dest, "--dest")

    async def check(client: ChainClient, address: str) -> None:
        await need_balance(client, address, rao, f"sending {fmt_tao(rao)} TAO")

    async def work(client: ChainClient, coldkey: Signer) -> dict[str, Any]:
        receipt = await client.transfer(coldkey, dest, rao, timeout=conn.submit_timeout)
        return {
            "from": coldkey.ss58,
            "dest": dest,
            "amount_rao": rao,
            "block": receipt.block_number,
            "extrinsic_hash": receipt.extrinsic_hash.hex(),
            "balance_rao": await client.balance(coldkey.ss58),
        }

    doc = conn.run_signed(keys, check, work)
    conn.emit(
        doc,
        lambda: typer.echo(
            f"sent {fmt_tao(rao)} TAO from {doc['from']} to {dest} in block {doc['block']} "
            f"(balance now {fmt_tao(doc['balance_rao'])} TAO)"
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("transfer")(transfer_cmd)

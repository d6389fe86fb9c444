"""``subnetkit axon set``: publish a hotkey's endpoint on a subnet without running a miner
(btcli's ``axon set``), e.g. for a server started elsewhere or behind a proxy.

The hotkey signs (``ServeAxon``). What the chain would refuse is refused first from public
state: the subnet, the hotkey's registration, a malformed address, and the subnet's
``serving_rate_limit`` counted from the block the endpoint was last set.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.options import Netuid
from subnetkit.cli.prechecks import need_past_rate_limit, need_registered, need_subnet
from subnetkit.cli.session import Connection, Keys
from subnetkit.core.errors import ConfigError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer

axon_app = typer.Typer(help="Publish a hotkey's endpoint on a subnet.", no_args_is_help=True)

#: ``chain.endpoints.SIGNED``: a miner's synapses, signed requests (imported lazily there: the
#: chain client is too heavy for ``subnetkit --help``); 5 is mutual TLS, 6 a validator's
#: certificate endpoint (docs/protocol.md, "TLS keyed by hotkeys")
DEFAULT_PROTOCOL = 4


def parse_fingerprint(text: str | None) -> bytes:
    """``--tls-fingerprint``: the 64-hex-digit SHA-256 of the DER certificate, or nothing."""
    if not text:
        return b""
    try:
        raw = bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            f"--tls-fingerprint {text!r} is not a SHA-256 (64 hex digits) of the DER certificate"
        )
    return raw


async def need_serving_allowed(client: ChainClient, netuid: int, hotkey: str) -> None:
    """``serving_rate_limit`` blocks have passed since the endpoint was last set."""
    neuron = await client.neuron(netuid, hotkey=hotkey)
    limit = int((await client.hyperparameters(netuid)).get("serving_rate_limit", 0))
    last = int(neuron.endpoint.block) if neuron is not None else 0
    await need_past_rate_limit(
        client, last, limit, f"endpoint of {hotkey} set", "serving_rate_limit"
    )


@axon_app.command("set")
@chain_command(KeyOptions.HOTKEY)
def axon_set(
    conn: Connection,
    keys: Keys,
    netuid: Netuid,
    ip: Annotated[str, typer.Option("--ip", help="IPv4 or IPv6 address validators dial.")],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port they dial.")],
    tls_fingerprint: Annotated[
        str | None,
        typer.Option("--tls-fingerprint", help="SHA-256 (hex) of the DER TLS certificate."),
    ] = None,
    protocol: Annotated[
        int,
        typer.Option(
            "--protocol",
            min=0,
            max=255,
            help="4: signed requests, 5: mutual TLS, 6: a validator's certificate endpoint.",
        ),
    ] = DEFAULT_PROTOCOL,
) -> None:
    """Publish the wallet hotkey's endpoint on a subnet (the hotkey signs; no password)."""
    try:
        address = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise ConfigError(f"--ip {ip!r} is not an IPv4 or IPv6 address") from None
    fingerprint = parse_fingerprint(tls_fingerprint)

    async def check(client: ChainClient, hotkey: str) -> None:
        await need_subnet(client, netuid)
        await need_registered(client, netuid, hotkey)
        await need_serving_allowed(client, netuid, hotkey)

    async def work(client: ChainClient, hotkey: Signer) -> dict[str, Any]:
        receipt = await client.serve_axon(
            hotkey,
            netuid,
            address,
            port,
            protocol=protocol,
            certificate_fingerprint=fingerprint,
            timeout=conn.submit_timeout,
        )
        return {
            "netuid": netuid,
            "hotkey": hotkey.ss58,
            "ip": address,
            "port": port,
            "protocol": protocol,
            "tls_fingerprint": fingerprint.hex(),
            "block": receipt.block_number,
        }

    doc = conn.run_as_hotkey(keys, check, work)
    shown = f"[{address}]" if ":" in address else address
    conn.emit(
        doc,
        lambda: typer.echo(
            f"{doc['hotkey']} serves {shown}:{port} on subnet {netuid}"
            f"{' (TLS)' if fingerprint else ''}, block {doc['block']}"
        ),
    )


def register(app: typer.Typer) -> None:
    app.add_typer(axon_app, name="axon")

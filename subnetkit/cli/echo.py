"""``subnetkit echo demo|serve``: the echo subnet from the command line.

``demo`` is the smallest end-to-end run of the wire: echo miners and a validator client in one
process on 127.0.0.1 with ephemeral ports, every request and response signed and verified.
``serve`` runs one echo miner until SIGTERM/SIGINT (health goes NOT_SERVING, then it drains).
"""

from __future__ import annotations

import json

import typer

from subnetkit.cli.options import Format, OutputFormat

echo_app = typer.Typer(help="The echo subnet: a demo and a standalone miner.", no_args_is_help=True)


@echo_app.command("demo")
def demo(
    requests: int = typer.Option(5, "--requests", "-n", min=1, help="Queries to send."),
    miners: int = typer.Option(3, "--miners", min=1, max=256, help="Echo miners to start."),
    timeout: float = typer.Option(5.0, "--timeout", help="Total deadline per query, seconds."),
    fmt: Format = OutputFormat.TEXT,
) -> None:
    """Start echo miners on 127.0.0.1:0 and query them with a signed validator client."""
    import asyncio

    from subnetkit.core.lifecycle import install_event_loop_policy

    install_event_loop_policy()
    asyncio.run(_demo(requests, miners, timeout, fmt))


async def _demo(requests: int, miners: int, timeout: float, fmt: OutputFormat) -> None:
    import asyncio

    from subnetkit.core.keys import DEV_ACCOUNTS, Signer, dev_signer
    from subnetkit.miner import MinerServer
    from subnetkit.subnets.echo import echo_pb2
    from subnetkit.subnets.echo.miner import EchoMiner
    from subnetkit.validator.client import MinerClient, Target

    validator_key = dev_signer("alice")
    keys = [
        dev_signer(DEV_ACCOUNTS[i + 1]) if i + 1 < len(DEV_ACCOUNTS) else Signer.generate()
        for i in range(miners)
    ]
    servers = [MinerServer(EchoMiner(), key) for key in keys]
    await asyncio.gather(*(s.start() for s in servers))
    method = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
    failures = 0
    try:
        targets = [Target(s.hotkey, "127.0.0.1", s.port) for s in servers]
        if fmt is OutputFormat.TEXT:
            typer.echo(f"validator {validator_key.ss58} querying {miners} echo miner(s)")
        async with MinerClient(validator_key) as client:
            for i in range(requests):
                request = echo_pb2.EchoRequest(text=f"hello #{i}")
                results = await client.query(targets, method, request, timeout=timeout)
                for r in results:
                    failures += r.error is not None
                    if fmt is OutputFormat.JSON:
                        typer.echo(
                            json.dumps(
                                {
                                    "request": i,
                                    "miner": r.target.hotkey,
                                    "port": r.target.port,
                                    "ok": r.ok,
                                    "text": r.response.text if r.response is not None else None,  # type: ignore[attr-defined]
                                    "error": None if r.error is None else r.error.status.name,
                                    "latency_ms": round(r.latency_s * 1000, 3),
                                }
                            )
                        )
                    elif r.error is None:
                        typer.echo(
                            f"  #{i} {r.target.hotkey[:10]}..:{r.target.port} "
                            f"{r.response.text!r} signed, {r.latency_s * 1000:.2f} ms"  # type: ignore[union-attr]
                        )
                    else:
                        typer.echo(
                            f"  #{i} {r.target.hotkey[:10]}..:{r.target.port} "
                            f"{r.error.status.name}: {r.error.message}"
                        )
    finally:
        await asyncio.gather(*(s.stop(1.0) for s in servers))
    if failures:
        from subnetkit.core.errors import WireError

        raise WireError(f"{failures} of {requests * miners} echo queries failed (see above)")


@echo_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(0, "--port", help="Port to bind (0: any free port)."),
    key: str = typer.Option("//Bob", "--key", help="Secret URI of the miner's hotkey (dev keys)."),
    crypto: str = typer.Option("sr25519", "--crypto", help="sr25519 or ed25519"),
) -> None:
    """Run one echo miner until SIGTERM/SIGINT. Prints 'serving HOTKEY on HOST:PORT' when up."""
    import asyncio

    from subnetkit.core.lifecycle import install_event_loop_policy

    install_event_loop_policy()
    asyncio.run(_serve(host, port, key, crypto))


async def _serve(host: str, port: int, key: str, crypto: str) -> None:
    from subnetkit.core.keys import Signer
    from subnetkit.core.lifecycle import run_until_signalled
    from subnetkit.miner import MinerServer
    from subnetkit.subnets.echo.miner import EchoMiner

    server = MinerServer(EchoMiner(), Signer.from_uri(key, crypto), host, port)

    def ready() -> None:
        typer.echo(f"serving {server.hotkey} on {host}:{server.port}")

    await run_until_signalled(server, on_ready=ready)
    typer.echo("stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(echo_app, name="echo")

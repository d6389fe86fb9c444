"""A refused TLS handshake costs a mutual-TLS miner no log line: gRPC core would write one to
stderr per attempt, so anyone could flood the log. The command line turns that off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

STRANGERS = """
import asyncio
{first}
from subnetkit.core.keys import Signer
from subnetkit.miner import MinerServer
from subnetkit.miner.sessions import TrustedPeers
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.validator.client import MinerClient, Target
from subnetkit.wire import tls

ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]


async def main() -> None:
    miner, stranger = Signer.generate(), Signer.generate()
    cert = tls.issue(miner)
    peers = TrustedPeers()
    async with MinerServer(EchoMiner(), miner, tls=cert, client_certificates=peers) as server:
        target = Target(miner.ss58, "127.0.0.1", server.port, tls_fingerprint=cert.fingerprint)
        for _ in range(3):
            async with MinerClient(stranger, tls_certificate=tls.issue(stranger)) as client:
                result = await client.query_one(target, ECHO, echo_pb2.EchoRequest(), 5)
                print(result.error.status.name if result.error else "OK")


asyncio.run(main())
"""


def _refused_three_times(first: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    proc = subprocess.run(
        [sys.executable, "-c", STRANGERS.format(first=first)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["UNAVAILABLE"] * 3
    return proc.stderr


@pytest.mark.slow
def test_refused_handshakes_are_not_logged_by_the_command_line() -> None:
    assert "Handshake failed" in _refused_three_times("")  # gRPC's default: a line each
    assert "Handshake failed" not in _refused_three_times("import subnetkit.cli")

"""A real miner process (`subnetkit echo serve`) answers signed queries and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from subnetkit.core.keys import dev_signer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.validator.client import MinerClient, Target

CLI = Path(sys.executable).parent / "subnetkit"
ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_echo_serve_process_stops_gracefully_on_signal(sig: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "echo",
        "serve",
        "--port",
        "0",
        "--key",
        "//Bob",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("serving "), line
        hotkey, address = line.split()[1], line.split()[3]
        assert hotkey == dev_signer("bob").ss58
        port = int(address.rsplit(":", 1)[1])
        async with MinerClient(dev_signer("alice")) as client:
            result = await client.query_one(
                Target(hotkey, "127.0.0.1", port), ECHO, echo_pb2.EchoRequest(text="p"), 5
            )
        assert result.ok and result.response.text == "p"  # type: ignore[union-attr]
        proc.send_signal(sig)
        async with asyncio.timeout(20):
            out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert "stopped" in out.decode()
        assert "Traceback" not in err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.slow
async def test_echo_demo_command_prints_signed_results() -> None:
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "echo",
        "demo",
        "--requests",
        "2",
        "--miners",
        "2",
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert len(rows) == 4 and all(r["ok"] for r in rows)
    assert {r["text"] for r in rows} == {"hello #0", "hello #1"}

"""Neuron identity: one neuron per state directory, and a miner notices when another process
with its hotkey takes its endpoint on chain."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.state_lock import StateDirLock
from subnetkit.miner.neuron import MinerNeuron
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.testing import ChainHarness
from tests.neurons.support import settings_for

pytestmark = pytest.mark.timeout(60)

HOLDER = """
import sys, time
from pathlib import Path
from subnetkit.core.state_lock import StateDirLock
StateDirLock(Path(sys.argv[1])).acquire({"role": "validator", "hotkey": "5Holder"})
print("held", flush=True)
time.sleep(60)
"""


async def test_lock_names_the_holding_process_and_dies_with_it(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, str(tmp_path), stdout=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(30):
            assert proc.stdout is not None and await proc.stdout.readline() == b"held\n"
        with pytest.raises(ConfigError, match=f"validator pid {proc.pid} hotkey 5Holder"):
            StateDirLock(tmp_path).acquire({"role": "miner"})
    finally:
        proc.send_signal(signal.SIGKILL)  # no clean-up: the kernel drops the lock
        await proc.wait()
    lock = StateDirLock(tmp_path)
    lock.acquire({"role": "miner"})
    lock.release()


async def test_second_neuron_on_one_state_dir_refuses_naming_the_first(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    netuid, _ = await h.subnet()
    [key] = await h.register(netuid, 1)
    settings = settings_for(h, netuid, tmp_path / "state")
    state = tmp_path / "one-dir"
    async with MinerNeuron(EchoMiner(), settings, signer=key, chain=h.client, state_dir=state):
        second = MinerNeuron(EchoMiner(), settings, signer=key, chain=h.client, state_dir=state)
        with pytest.raises(
            ConfigError, match=f"in use by miner pid {os.getpid()} hotkey {key.ss58}"
        ):
            await second.start()
        assert second.server is None  # refused before binding or announcing anything
    # Once the first has stopped, the directory is free again.
    async with MinerNeuron(EchoMiner(), settings, signer=key, chain=h.client, state_dir=state):
        pass


@pytest.mark.parametrize("action", ["stop", "reannounce"])
async def test_endpoint_taken_by_another_process_is_noticed(
    chain: ChainHarness, tmp_path: Path, action: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = chain
    netuid, _ = await h.subnet()
    [key] = await h.register(netuid, 1)
    settings = settings_for(
        h, netuid, tmp_path / "state", **{"miner.on_endpoint_taken": action, "axon.tls": True}
    )
    async with MinerNeuron(EchoMiner(), settings, signer=key, chain=h.client) as miner:
        assert miner.server is not None and miner.certificate is not None
        uid = miner.uid
        assert uid is not None
        ours = (miner.announced, miner.server.port)
        mg = await h.client.metagraph(netuid)
        assert mg.axons[uid].certificate_fingerprint == miner.certificate.fingerprint
        # Another process with the same hotkey announces itself (the same signed extrinsic).
        await h.client.serve_axon(key, netuid, "127.0.0.1", 9)
        await h.produce(1)
        async with asyncio.timeout(20):
            while not any("did not announce" in r.message for r in caplog.records):
                await h.produce(1)
                await asyncio.sleep(0.05)  # the miner's sync task follows the new block
        error = next(r for r in caplog.records if "did not announce" in r.message)
        assert error.levelno == logging.ERROR and "127.0.0.1:9" in error.getMessage()
        if action == "stop":
            assert await miner.wait_stopped(10)
        else:
            async with asyncio.timeout(20):
                while (await h.client.metagraph(netuid)).axons[uid].port != ours[1]:
                    await h.produce(1)
                    await asyncio.sleep(0.05)
            assert not miner.stopping

"""``subnetkit miner run`` as a real process against a chain served by the test.

The chain runs in this process (manual blocks + automine, 127.0.0.1:0); the miner is a child
process started through the console entry point with a real wallet on disk. Claims: the ready
file appears with the serving port, that endpoint is on chain, the miner answers signed echo
queries, SIGTERM exits 0; an unregistered hotkey prints one line and exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

import pytest

from subnetkit.core import wallet
from subnetkit.core.errors import NotRegisteredError
from subnetkit.core.keys import Signer
from subnetkit.miner.neuron import MinerNeuron
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.testing import TAO, ChainHarness, wait_for_ready_file
from subnetkit.validator.client import MinerClient, Target
from tests.neurons.support import settings_for

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

ENTRY = "import sys; from subnetkit.cli import main; sys.exit(main())"
ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]


def _miner_cmd(h: ChainHarness, netuid: int, wallets: Path, tmp: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        ENTRY,
        "miner",
        "run",
        "--subnet",
        "echo",
        "--netuid",
        str(netuid),
        "--wallet-name",
        "op",
        "--wallet-hotkey",
        "m1",
        "--wallet-path",
        str(wallets),
        "--chain-endpoint",
        h.service.address,
        "--port",
        "0",
        "--state-dir",
        str(tmp / "state"),
        *extra,
    ]


async def _wait_ready(proc: asyncio.subprocess.Process, ready: Path, timeout: float) -> dict:
    return await wait_for_ready_file(ready, timeout, process=proc)


async def test_miner_process_serves_on_chain_and_exits_0_on_sigterm(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    wallets = tmp_path / "wallets"
    info = await asyncio.to_thread(wallet.create_wallet, "op", "m1", path=wallets)
    hotkey = info.hotkeys["m1"]
    netuid, _ = await h.subnet()
    await h.client.burned_register(h.bob, netuid, hotkey)
    validator = Signer.generate()
    await h.client.burned_register(h.charlie, netuid, validator.ss58)
    await h.client.add_stake(h.charlie, netuid, validator.ss58, 10 * TAO)
    await h.produce_until_epoch(netuid)  # the validator gets its permit

    ready = tmp_path / "ready.json"
    log = (tmp_path / "miner.log").open("wb")
    cmd = _miner_cmd(h, netuid, wallets, tmp_path, "--ready-file", str(ready))
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log)
    try:
        doc = await _wait_ready(proc, ready, 60)
        assert doc["pid"] == proc.pid and doc["hotkey"] == hotkey and doc["port"] > 0
        mg = await h.client.metagraph(netuid)
        axon = mg.axons[mg.uid_of(hotkey)]
        assert (axon.ip, axon.port) == ("127.0.0.1", doc["port"])
        async with MinerClient(validator) as client:
            result = await client.query_one(
                Target(hotkey, "127.0.0.1", doc["port"]),
                ECHO,
                echo_pb2.EchoRequest(text="over a real process"),
                timeout=10,
            )
        assert result.ok, result.error
        assert result.response.text == "over a real process"  # type: ignore[union-attr]
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()


async def test_unregistered_miner_prints_one_line_and_exits_nonzero(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    wallets = tmp_path / "wallets"
    await asyncio.to_thread(wallet.create_wallet, "op", "m1", path=wallets)
    netuid, _ = await h.subnet()
    proc = await asyncio.create_subprocess_exec(
        *_miner_cmd(h, netuid, wallets, tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == NotRegisteredError.exit_code
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error[not_registered]: ")
    assert (
        f"subnetkit register --netuid {netuid} --wallet-name op --wallet-hotkey m1 "
        f"--wallet-path {wallets} --chain-endpoint {h.service.address}"
    ) in lines[0]  # the same wallets and chain the miner used
    assert out == b""


async def test_validator_process_scores_a_miner_and_sets_weights(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    wallets = tmp_path / "wallets"
    info = await asyncio.to_thread(wallet.create_wallet, "op", "v1", path=wallets)
    vkey = info.hotkeys["v1"]
    netuid, _ = await h.subnet(tempo=5)
    miner_keys = await h.register(netuid, 2)
    await h.client.burned_register(h.charlie, netuid, vkey)
    await h.client.add_stake(h.charlie, netuid, vkey, 10 * TAO)
    await h.produce_until_epoch(netuid)
    settings = settings_for(h, netuid, tmp_path / "miner-state")
    ready = tmp_path / "validator.json"
    cmd = _miner_cmd(h, netuid, wallets, tmp_path, "--ready-file", str(ready))
    cmd[cmd.index("miner")] = "validator"
    cmd[cmd.index("m1")] = "v1"
    cmd += ["--metrics-port", "0", "--set", "validator.weights_interval_blocks=1"]
    # the validator's own flags win over --set of the same setting
    cmd += ["--set", "validator.sample_size=2", "--sample-size", "1"]
    cmd += ["--moving-average-alpha", "0.3", "--timeout", "5"]
    log = (tmp_path / "validator.log").open("wb")
    async with contextlib.AsyncExitStack() as miners:
        for key in miner_keys:
            await miners.enter_async_context(
                MinerNeuron(EchoMiner(), settings, signer=key, chain=h.client)
            )
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log)
        try:
            doc = await _wait_ready(proc, ready, 60)
            assert doc["hotkey"] == vkey and doc["port"] > 0  # the metrics port
            await h.produce(1)  # one round: query, score, set weights
            async with asyncio.timeout(30):
                while True:
                    mg = await h.client.metagraph(netuid, with_weights=True)
                    row = mg.weights_u16[mg.uid_of(vkey)].tolist()
                    if any(row):
                        break
                    await asyncio.sleep(0.05)  # waiting for the child process, not for blocks
            assert not mg.axons[mg.uid_of(vkey)].is_serving  # validators serve no endpoint
            # --sample-size 1: the first weights (after round 1) name one miner only
            assert sorted(row[mg.uid_of(k.ss58)] for k in miner_keys) == [0, 65535]
            state = tmp_path / "state" / "op" / "v1" / f"netuid{netuid}" / "validator"
            saved = json.loads((state / "scores.json").read_text())
            queried = sum(m["rounds"] for m in saved["miners"].values())
            assert queried == saved["round"]  # one miner per round
            # --moving-average-alpha 0.3: n rounds of an echo score s in [0.9, 1] from 0 give
            # s * (1 - 0.7**n)
            assert saved["alpha"] == 0.3
            for m in saved["miners"].values():
                assert 0.9 <= m["score"] / (1 - 0.7 ** m["rounds"]) <= 1.0, m
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            log.close()

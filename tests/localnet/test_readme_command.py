"""README's main command, as a user runs it: ``subnetkit localnet up`` on the embedding subnet.

A real process with the defaults (3 miners, 2 validators, commit-reveal on), stopping by itself
after two counted epochs. The summary must show what the README promises: incentive ranks the
miners by quality (the reference model over its noisy copy over random vectors) and both
validators earn dividends. Run in a scratch working and temp dir, so a clean run is also seen to
remove its temp data dir. About 45 s on 2 CPU cores.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.localnet.test_cli import CLI

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WAIT_S = 240.0


async def test_localnet_up_embedding_ranks_miners_by_quality_and_pays_validators(
    tmp_path: Path,
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "localnet",
        "up",
        "--subnet",
        "embedding",
        "--epochs",
        "2",
        "--format",
        "json",
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(WAIT_S):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    summary = json.loads(out)  # exactly one JSON document on stdout
    assert summary["subnet"] == "embedding" and summary["epochs"] == 2
    assert not summary["interrupted"]
    neurons = {n["name"]: n for n in summary["neurons"]}
    assert set(neurons) == {
        "validator-0",
        "validator-1",
        "miner-good",
        "miner-noisy",
        "miner-random",
    }
    incentive = {name: neurons[name]["incentive"] for name in neurons if name.startswith("miner")}
    assert incentive["miner-good"] > incentive["miner-noisy"] > incentive["miner-random"], incentive
    for name in ("validator-0", "validator-1"):
        assert neurons[name]["dividends"] > 0, neurons[name]
    assert summary["owner_emission"] > 0
    assert "Traceback" not in err.decode()
    assert list(scratch.glob("subnetkit-localnet-*")) == []  # the temp data dir is gone

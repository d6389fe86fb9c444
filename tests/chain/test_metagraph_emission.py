"""The metagraph snapshot after real epochs, the emission split, streams, health and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subnetkit.chain.metagraph import diff
from subnetkit.chain.service import SERVICE_NAME
from subnetkit.core.keys import Signer
from subnetkit.testing import TAO, ChainHarness


async def test_metagraph_snapshot_and_emission_split(chain: ChainHarness) -> None:
    c = chain.client
    netuid, _ = await chain.subnet(weights_rate_limit=0)
    validator_hk = Signer.generate()
    await c.burned_register(chain.charlie, netuid, validator_hk.ss58)  # uid 1, a validator
    miners = await chain.register(netuid, 2)  # uids 2, 3
    await c.add_stake(chain.charlie, netuid, validator_hk.ss58, 50 * TAO)
    await c.serve_axon(miners[0], netuid, "10.0.0.1", 8091)
    first = await c.metagraph(netuid)
    # One epoch hands out validator permits (by stake); then the validator weights the miners.
    await chain.produce_until_epoch(netuid)
    await c.set_weights(validator_hk, netuid, [2, 3], [65535, 21845])
    await chain.produce_until_epoch(netuid)  # pending emission from this epoch's interval
    before = await c.metagraph(netuid)
    await chain.produce_until_epoch(netuid)
    mg = await c.metagraph(netuid, with_weights=True)

    assert mg.block == chain.service.head.number and mg.n == 4
    assert mg.hotkeys[1] == validator_hk.ss58 and mg.coldkeys[1] == chain.charlie.ss58
    assert mg.tempo == 10 and 1 <= mg.blocks_until_next_epoch <= 11
    assert mg.axons[2].address == "10.0.0.1:8091" and mg.axons[2].is_serving
    assert not mg.axons[3].is_serving
    assert bool(mg.validator_permit[1]) and bool(mg.active[1])
    assert mg.I[2] > mg.I[3] > 0 and float(mg.I.sum()) == pytest.approx(1.0, abs=1e-3)
    assert float(mg.D[1]) == pytest.approx(1.0, abs=1e-3)
    assert float(mg.C[2]) > 0 and float(mg.Tv[1]) > 0
    assert mg.W.shape == (4, 4) and float(mg.W[1].sum()) == pytest.approx(1.0)
    assert float(mg.B[1, 2]) > 0
    assert mg.S.dtype.is_floating_point and float(mg.S[1]) > 40

    # The epoch's emission: miners and the validator half each; the owner's cut (~18%) went to
    # the owner hotkey's stake.
    paid_miners = float(mg.E[2] + mg.E[3])
    paid_validator = float(mg.E[1])
    assert paid_miners == pytest.approx(paid_validator, rel=0.01)
    owner_gain = float(mg.S[0] - before.S[0])
    total = owner_gain + paid_miners + paid_validator
    assert owner_gain / total == pytest.approx(11796 / 65535, rel=0.02)
    # One tempo (10 blocks, the dynamic schedule) of 1 alpha each was split at this epoch.
    assert total == pytest.approx(10.0, rel=0.02)

    change = diff(first, mg)
    assert change.new_uids == [] and change.replaced == []
    assert (1, False, True) in change.permit_changes


async def test_stream_blocks_pushes_heads_with_events(chain: ChainHarness) -> None:
    c = chain.client
    seen: list[int] = []
    events: list[str] = []

    async def watch() -> None:
        async for block in c.stream_blocks(from_block=1):
            seen.append(block.header.number)
            events.extend(e.name for e in block.events)
            if block.header.number >= 4:
                return

    task = asyncio.create_task(watch())
    await chain.produce(2)
    await c.transfer(chain.alice, chain.bob.ss58, TAO)  # block 3
    await chain.produce(1)
    async with asyncio.timeout(10):
        await task
    assert seen == [1, 2, 3, 4]
    assert "Transfer" in events
    block = await c.block(3)
    assert block.header.parent_hash == (await c.block(2)).header.hash


async def test_health_and_manual_mode_guard(chain: ChainHarness) -> None:
    async with grpc.aio.insecure_channel(chain.service.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    assert (await chain.client.produce_block(3)).number == chain.service.head.number


async def test_cli_start_info_and_bad_flags(tmp_path: Path) -> None:
    from tests.helpers.chain import ChainProcess

    proc = await ChainProcess(tmp_path / "chain", "--dev", "--manual").start()
    try:
        code = "import sys; from subnetkit.cli import main; sys.exit(main())"
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", code, "chain", "info", "-a", proc.address, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        assert doc["dev"] is True and doc["manual"] is True and doc["head"] == 0
    finally:
        assert await proc.stop() == 0
    bad = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code, "chain", "start", "--block-time", "soon", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error[config]: block time 'soon' is not a duration: use e.g. 12s, 250ms or 0.5"
    )

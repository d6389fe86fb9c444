"""``--workers K``: K generator processes, one hotkey, histograms merged into one summary."""

from __future__ import annotations

import asyncio

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.loadtest.runner import LoadTestOptions, run_loadtest
from subnetkit.loadtest.schedule import plan_from_options
from subnetkit.loadtest.workers import split_plan
from subnetkit.miner import MinerServer
from subnetkit.subnets.echo.miner import EchoMiner


def plan(**kw):  # type: ignore[no-untyped-def]
    flags = dict(
        concurrency=None,
        rate=None,
        stages=None,
        duration=None,
        fanout=None,
        timeout=5.0,
        max_inflight=100,
    )
    flags.update(kw)
    return plan_from_options(**flags)


def test_the_load_is_split_evenly() -> None:
    shares = split_plan(plan(rate=90, duration=2), 3)
    assert [p.rate for p in shares] == [30, 30, 30]
    ramps = split_plan(plan(stages="1s:60,1s:0"), 2)
    assert [s.target for s in ramps[0].stages] == [30, 0]
    assert [p.concurrency for p in split_plan(plan(concurrency=5), 2)] == [3, 2]
    with pytest.raises(ConfigError, match="at least 3"):
        split_plan(plan(concurrency=2), 3)


@pytest.mark.slow
async def test_two_workers_one_hotkey_no_replays_and_one_merged_histogram() -> None:
    servers = [MinerServer(EchoMiner(), Signer.generate()) for _ in range(2)]
    await asyncio.gather(*(s.start() for s in servers))
    try:
        summary = await run_loadtest(
            LoadTestOptions(
                plan=plan(rate=100, duration=1),
                subnet="echo",
                targets=[f"{s.hotkey}@127.0.0.1:{s.port}" for s in servers],
                workers=2,
            )
        )
    finally:
        await asyncio.gather(*(s.stop(0) for s in servers))
    assert summary["workers"] == 2
    assert summary["scheduled"] == summary["completed"] == 100  # 50 from each worker
    assert summary["errors"] == 0, summary["error_examples"]  # no nonce of one replays the other
    assert sum(b["ok"] for b in summary["timeline"]) == 100


async def test_workers_refuse_an_in_process_swarm() -> None:
    with pytest.raises(ConfigError, match="--workers needs miners over gRPC"):
        await run_loadtest(
            LoadTestOptions(plan=plan(rate=10, duration=0.2), subnet="echo", swarm=2, workers=2)
        )

"""The harness measures what happened: a known service time comes out as itself, and a stall
shows in the open model's tail (the closed model, waiting on each answer, hides it)."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.loadtest.runner import LoadTestOptions, run_loadtest
from subnetkit.loadtest.schedule import plan_from_options
from subnetkit.miner import MinerServer
from subnetkit.subnets.echo.miner import EchoMiner
from tests.loadtest.fakes import DELAY_S, SERVED_S, STALL_S

SUBNET = "tests.loadtest.fakes:SUBNET"


def options(variant: str, **plan) -> LoadTestOptions:  # type: ignore[no-untyped-def]
    flags = dict(
        concurrency=None,
        rate=None,
        stages=None,
        duration=None,
        fanout=None,
        timeout=5.0,
        max_inflight=1000,
    )
    flags.update(plan)
    return LoadTestOptions(plan=plan_from_options(**flags), subnet=f"{SUBNET}:{variant}", swarm=4)


async def test_reported_p50_is_the_service_time_plus_the_unloaded_overhead() -> None:
    unloaded = await run_loadtest(options("zero", rate=20, duration=2))
    SERVED_S.clear()
    loaded = await run_loadtest(options("delay", rate=20, duration=2))
    assert unloaded["errors"] == loaded["errors"] == 0
    overhead_us = unloaded["latency_us"]["p50"]
    # D is the miner's own measured time (DELAY_S on a quiet machine, a little more on a busy one)
    served_us = statistics.median(SERVED_S) * 1e6
    assert served_us >= DELAY_S * 1e6
    expected_us = served_us + overhead_us
    assert abs(loaded["latency_us"]["p50"] - expected_us) <= 0.05 * expected_us, (
        loaded["latency_us"],
        overhead_us,
    )
    assert loaded["completed"] == loaded["scheduled"] == 40


async def test_a_one_second_stall_shows_in_the_open_model_p99() -> None:
    open_model = await run_loadtest(options("stall", rate=100, duration=2.5))
    closed = await run_loadtest(options("stall", concurrency=1, duration=2.5))
    stall_us = STALL_S * 1e6
    # ~100 of the 250 scheduled requests fell due during the stall: each waited for its end.
    assert open_model["latency_us"]["p99"] >= 0.8 * stall_us, open_model["latency_us"]
    assert open_model["latency_us"]["p90"] >= 0.2 * stall_us
    # One closed worker sent one request into the stall and nothing else until it ended: the
    # stall is one slow sample among thousands, and its p99 never sees it.
    assert closed["latency_us"]["max"] >= 0.8 * stall_us
    assert closed["latency_us"]["p99"] < 0.1 * stall_us, closed["latency_us"]


async def test_existing_miners_by_hotkey_at_host_port() -> None:
    servers = [MinerServer(EchoMiner(), Signer.generate()) for _ in range(3)]
    await asyncio.gather(*(s.start() for s in servers))
    try:
        opts = LoadTestOptions(
            plan=plan_from_options(
                concurrency=4,
                rate=None,
                stages=None,
                duration=0.5,
                fanout=3,
                timeout=5.0,
                max_inflight=100,
            ),
            subnet="echo",
            targets=[f"{s.hotkey}@127.0.0.1:{s.port}" for s in servers],
        )
        summary = await run_loadtest(opts)
    finally:
        await asyncio.gather(*(s.stop(0) for s in servers))
    assert summary["backend"] == "remote" and summary["targets"] == 3
    assert summary["model"] == "fanout" and summary["completed"] > 0
    assert summary["status_counts"]["OK"] == 3 * summary["completed"]  # every round asked all 3
    assert summary["errors"] == 0


async def test_a_wrong_hotkey_is_counted_by_status_with_its_reason() -> None:
    server = MinerServer(EchoMiner(), Signer.generate())
    await server.start()
    try:
        opts = LoadTestOptions(
            plan=plan_from_options(
                concurrency=1,
                rate=None,
                stages=None,
                duration=0.3,
                fanout=None,
                timeout=5.0,
                max_inflight=100,
            ),
            subnet="echo",
            targets=[f"{Signer.generate().ss58}@127.0.0.1:{server.port}"],
        )
        summary = await run_loadtest(opts)
    finally:
        await server.stop(0)
    assert summary["ok"] == 0 and summary["error_rate"] == 1.0
    assert list(summary["errors_by_status"]) == ["UNAUTHENTICATED"]
    assert "addressed to" in summary["error_examples"]["UNAUTHENTICATED"]


async def test_a_fixed_request_from_json_and_a_bad_one() -> None:
    fixed = LoadTestOptions(
        plan=plan_from_options(
            concurrency=1,
            rate=None,
            stages=None,
            duration=0.3,
            fanout=None,
            timeout=5.0,
            max_inflight=10,
        ),
        subnet="echo",
        swarm=2,
        request_json='{"text": "the same every time"}',
    )
    summary = await run_loadtest(fixed)
    assert summary["completed"] > 0 and summary["errors"] == 0
    assert summary["method"] == "/subnets.echo.v1.Echo/Echo"
    fixed.request_json = '{"txt": 1}'
    with pytest.raises(ConfigError, match=r"is not a subnets\.echo\.v1\.EchoRequest in JSON"):
        await run_loadtest(fixed)

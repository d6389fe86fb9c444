"""Load shedding and priority: queue overflow, per-caller limits, and who runs first."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from subnetkit.core.keys import Signer
from subnetkit.miner import Limits, MinerServer
from subnetkit.miner.scheduler import QueueFull, SynapseScheduler
from subnetkit.subnets.echo import echo_pb2
from subnetkit.testing import eventually
from tests.miner.fakes import ScriptedMiner
from tests.wire.raw import raw_unary, signed_metadata

S = grpc.StatusCode


def body(text: str) -> bytes:
    return echo_pb2.EchoRequest(text=text).SerializeToString()


async def send(server: MinerServer, signer: Signer, text: str):  # type: ignore[no-untyped-def]
    data = body(text)
    return await raw_unary(server.port, data, signed_metadata(signer, data, server.hotkey))


async def test_queue_overflow_sheds_with_resource_exhausted(alice: Signer, bob: Signer) -> None:
    miner = ScriptedMiner()
    limits = Limits(max_concurrency=1, max_queue=1)
    async with MinerServer(miner, bob, limits=limits) as server:
        sched = server._schedulers["/subnets.echo.v1.Echo/Echo"]
        running = asyncio.ensure_future(send(server, alice, "block-1"))
        await eventually(lambda: sched.running == 1)
        queued = asyncio.ensure_future(send(server, alice, "block-2"))
        await eventually(lambda: sched.queued == 1)
        shed = await send(server, alice, "block-3")
        assert shed.code == S.RESOURCE_EXHAUSTED
        assert "Echo is saturated" in shed.details and "1 queued" in shed.details
        queue_depth = server.metrics.registry.get_sample_value(
            "subnetkit_miner_queue_depth", {"synapse": "Echo"}
        )
        assert queue_depth == 1
        miner.gate.set()
        assert (await running).code == S.OK
        assert (await queued).code == S.OK
        assert (await send(server, alice, "after")).code == S.OK
        assert miner.served == ["block-1", "block-2", "after"]


async def test_priority_hook_orders_the_queue(
    alice: Signer, bob: Signer, charlie: Signer, eve: Signer
) -> None:
    miner = ScriptedMiner()
    stake = {charlie.ss58: 1.0, eve.ss58: 100.0}
    limits = Limits(max_concurrency=1, max_queue=8)
    async with MinerServer(miner, bob, limits=limits, priority=lambda c: stake.get(c, 0.0)) as srv:
        sched = srv._schedulers["/subnets.echo.v1.Echo/Echo"]
        first = asyncio.ensure_future(send(srv, alice, "block-first"))
        await eventually(lambda: sched.running == 1)
        low = asyncio.ensure_future(send(srv, charlie, "block-low"))
        await eventually(lambda: sched.queued == 1)
        high = asyncio.ensure_future(send(srv, eve, "block-high"))
        await eventually(lambda: sched.queued == 2)
        miner.gate.set()
        for task in (first, low, high):
            assert (await task).code == S.OK
        # The high-stake caller arrived last but ran before the low-stake one.
        assert miner.served == ["block-first", "block-high", "block-low"]


async def test_per_caller_limit(alice: Signer, bob: Signer, charlie: Signer) -> None:
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, limits=Limits(max_per_caller=1)) as server:
        busy = asyncio.ensure_future(send(server, alice, "block"))
        await eventually(lambda: server._per_caller.get(alice.ss58) == 1)
        second = await send(server, alice, "again")
        assert second.code == S.RESOURCE_EXHAUSTED
        assert "lower the client's concurrency" in second.details
        assert (await send(server, charlie, "other caller")).code == S.OK
        miner.gate.set()
        assert (await busy).code == S.OK
        assert server._per_caller == {}


async def test_scheduler_fifo_for_equal_priority_and_cancellation() -> None:
    sched = SynapseScheduler(max_concurrency=1, max_queue=3)
    order: list[int] = []
    gate = asyncio.Event()

    async def job(i: int) -> None:
        await sched.wait(0.0)
        try:
            order.append(i)
            await gate.wait()
        finally:
            sched.release()

    tasks = [asyncio.ensure_future(job(i)) for i in range(4)]
    await eventually(lambda: sched.queued == 3)
    tasks[2].cancel()  # a waiter that gives up frees its queue place
    await eventually(lambda: sched.queued == 2)
    gate.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 1, 3]
    assert sched.running == 0 and sched.queued == 0


async def test_scheduler_rejects_past_queue_limit() -> None:
    sched = SynapseScheduler(max_concurrency=1, max_queue=0)
    assert sched.try_acquire()
    assert not sched.try_acquire()
    with pytest.raises(QueueFull, match="retry later"):
        await sched.wait(5.0)
    assert sched.running == 1 and sched.queued == 0
    sched.release()
    assert sched.running == 0


async def test_full_nonce_cache_sheds_instead_of_forgetting(alice: Signer, bob: Signer) -> None:
    async with MinerServer(ScriptedMiner(), bob, limits=Limits(nonce_cache_capacity=2)) as server:
        assert (await send(server, alice, "one")).code == S.OK
        assert (await send(server, alice, "two")).code == S.OK
        full = await send(server, alice, "three")
        assert full.code == S.RESOURCE_EXHAUSTED and "nonce cache full" in full.details
        assert len(server.nonce_cache) == 2


async def test_replay_quota_sheds_the_greedy_caller_only(
    alice: Signer, bob: Signer, charlie: Signer
) -> None:
    limits = Limits(nonce_cache_capacity=100, nonce_cache_per_caller=2)
    async with MinerServer(ScriptedMiner(), bob, limits=limits) as server:
        assert (await send(server, alice, "one")).code == S.OK
        assert (await send(server, alice, "two")).code == S.OK
        greedy = await send(server, alice, "three")
        assert greedy.code == S.RESOURCE_EXHAUSTED
        assert "send fewer requests per second" in greedy.details
        assert (await send(server, charlie, "someone else")).code == S.OK
        labels = {"synapse": "Echo", "caller": "authenticated", "status": "RESOURCE_EXHAUSTED"}
        registry = server.metrics.registry
        assert registry.get_sample_value("subnetkit_miner_requests_total", labels) == 1

"""Plain ``def`` handlers past the deadline: their thread runs on, and so does their slot.

A worker thread cannot be cancelled. If the slot were freed when the caller gives up, the next
requests would wait in the thread pool's own queue, where the scheduler cannot see, count,
order or shed them, and they would time out there. So a thread's slot is released only when the
thread returns, and a plain ``def`` synapse never runs more handlers than it has threads.
"""

from __future__ import annotations

import asyncio

import grpc

from subnetkit.core.keys import Signer
from subnetkit.miner import Limits, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.testing import eventually
from tests.miner.fakes import BlockingThreadMiner
from tests.wire.raw import ECHO, ECHO_STREAM, raw_unary, signed_metadata

S = grpc.StatusCode


async def unary(server: MinerServer, signer: Signer, text: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    data = echo_pb2.EchoRequest(text=text).SerializeToString()
    return await raw_unary(
        server.port, data, signed_metadata(signer, data, server.hotkey), timeout=timeout
    )


def queue_depth(server: MinerServer, synapse: str = "Echo") -> float | None:
    return server.metrics.registry.get_sample_value(
        "subnetkit_miner_queue_depth", {"synapse": synapse}
    )


def in_flight(server: MinerServer, synapse: str = "Echo") -> float | None:
    return server.metrics.registry.get_sample_value(
        "subnetkit_miner_in_flight", {"synapse": synapse}
    )


async def test_thread_past_deadline_keeps_its_slot_and_overflow_is_shed(
    alice: Signer, bob: Signer
) -> None:
    miner = BlockingThreadMiner()
    # One caller fills every slot here: the per-caller share is not what this test is about.
    limits = Limits(max_concurrency=2, max_queue=1, worker_threads=2, slot_share=1.0)
    async with MinerServer(miner, bob, limits=limits) as server:
        try:
            late = await asyncio.gather(*(unary(server, alice, "block", 0.3) for _ in range(2)))
            assert [r.code for r in late] == [S.DEADLINE_EXCEEDED] * 2
            assert miner.running == 2  # both threads run on past the deadline...
            assert in_flight(server) == 2  # ...and still hold their slots, visibly
            queued = asyncio.ensure_future(unary(server, alice, "queued", 5.0))
            await eventually(lambda: queue_depth(server) == 1)  # counted, not hidden in the pool
            shed = await unary(server, alice, "overflow", 5.0)
            assert shed.code == S.RESOURCE_EXHAUSTED and "Echo is saturated" in shed.details
            miner.release.set()  # the threads return: their slots pass to the queue
            reply = await queued
            assert reply.code == S.OK, reply.details
            await eventually(lambda: in_flight(server) == 0)
            assert server._per_caller == {}
        finally:
            miner.release.set()


async def test_sync_stream_past_deadline_keeps_its_slot_then_closes_the_generator(
    alice: Signer, bob: Signer
) -> None:
    miner = BlockingThreadMiner()
    limits = Limits(max_concurrency=1, max_queue=0, worker_threads=1)
    async with (
        MinerServer(miner, bob, limits=limits) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        try:
            data = echo_pb2.EchoStreamRequest(text="block", count=3).SerializeToString()
            md = signed_metadata(alice, data, server.hotkey, method=ECHO_STREAM)
            call = channel.unary_stream(ECHO_STREAM)(data, metadata=md, timeout=0.3)
            chunks = []
            try:
                async for chunk in call:
                    chunks.append(chunk)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == S.DEADLINE_EXCEEDED
            assert len(chunks) == 1 and miner.running == 1
            assert in_flight(server, "EchoStream") == 1
            assert miner.closed == 0
            miner.release.set()
            await eventually(lambda: in_flight(server, "EchoStream") == 0)
            assert miner.closed == 1  # the abandoned generator was closed: its finally ran
            assert server._per_caller == {}
        finally:
            miner.release.set()


async def test_sync_synapse_runs_no_more_handlers_than_it_has_threads(
    alice: Signer, bob: Signer
) -> None:
    miner = BlockingThreadMiner()
    limits = Limits(max_concurrency=64, max_queue=4, worker_threads=2, slot_share=1.0)
    async with MinerServer(miner, bob, limits=limits) as server:
        try:
            assert server._schedulers[ECHO].max_concurrency == 2
            busy = [asyncio.ensure_future(unary(server, alice, f"block-{i}")) for i in range(3)]
            await eventually(lambda: miner.running == 2 and queue_depth(server) == 1)
            assert in_flight(server) == 2
            miner.release.set()
            assert [(await b).code for b in busy] == [S.OK] * 3
        finally:
            miner.release.set()

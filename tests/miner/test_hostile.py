"""What an attacker found on a running miner, each made as the real request, then the miner is
shown still serving: slot hogging, chunk floods, cancelled streams, connection abuse."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.miner import Limits, MinerServer, SynapseCaps
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.testing import eventually
from tests.miner.fakes import ScriptedMiner
from tests.wire.raw import ECHO, ECHO_STREAM, raw_unary, signed_metadata

S = grpc.StatusCode


def requests_with(server: MinerServer, status: str) -> float:
    return sum(
        s.value
        for m in server.metrics.registry.collect()
        for s in m.samples
        if s.name == "subnetkit_miner_requests_total" and s.labels["status"] == status
    )


async def echo(server: MinerServer, signer: Signer, text: str = "hi", timeout: float = 5):  # type: ignore[no-untyped-def]
    data = echo_pb2.EchoRequest(text=text).SerializeToString()
    md = signed_metadata(signer, data, server.hotkey)
    return await raw_unary(server.port, data, md, timeout=timeout)


def stream_call(
    channel: grpc.aio.Channel,
    server: MinerServer,
    signer: Signer,
    count: int,
    timeout: float,
    text: str = "x",
):  # type: ignore[no-untyped-def]
    data = echo_pb2.EchoStreamRequest(text=text, count=count).SerializeToString()
    md = signed_metadata(signer, data, server.hotkey, method=ECHO_STREAM)
    return channel.unary_stream(ECHO_STREAM)(data, metadata=md, timeout=timeout)


async def test_one_key_cannot_hold_every_stream_slot(alice: Signer, bob: Signer) -> None:
    """64 unread streams with 600 s deadlines from one key: it runs only its share, the others
    are served, and its streams end at the miner's stream cap, not the caller's deadline."""
    hog = Signer.generate()
    limits = Limits(max_concurrency=8, max_queue=128, max_stream_s=1.0)
    async with (
        MinerServer(EchoMiner(), bob, limits=limits) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        sched = server._schedulers[ECHO_STREAM]
        big = "x" * 60_000  # a few unread chunks fill the flow-control window: writes block
        calls = [stream_call(channel, server, hog, 1000, 600, big) for _ in range(64)]
        await eventually(lambda: sched.held_by(hog.ss58) == 2 and sched.queued == 62)
        started = time.monotonic()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as other:
            honest = [c async for c in stream_call(other, server, alice, 3, 5)]
        assert len(honest) == 3  # served while the hog holds its share
        assert time.monotonic() - started < 0.9  # and without waiting for the hog's streams
        assert (await echo(server, alice)).code == S.OK
        # The hog's running streams end at the miner's 1 s stream cap, not its 600 s deadline.
        await eventually(lambda: requests_with(server, "DEADLINE_EXCEEDED") >= 2, timeout=5)
        for call in calls:
            call.cancel()
        await eventually(lambda: sched.running == 0 and sched.queued == 0, timeout=10)


async def test_higher_priority_caller_gets_a_reserved_slot(bob: Signer) -> None:
    miner = ScriptedMiner()
    callers = [Signer.generate() for _ in range(4)]
    vip = Signer.generate()
    priority = {vip.ss58: 10.0}
    limits = Limits(max_concurrency=8, max_queue=16)  # 2 per caller, 2 reserved
    async with MinerServer(miner, bob, limits=limits, priority=lambda c: priority.get(c, 0)) as srv:
        sched = srv._schedulers[ECHO]
        blocked = [asyncio.ensure_future(echo(srv, c, "block")) for c in callers for _ in range(2)]
        await eventually(lambda: sched.running == 6 and sched.queued == 2)
        assert (await echo(srv, vip, "vip")).code == S.OK  # a reserved slot, not the queue
        assert "vip" in miner.served and sched.queued == 2
        miner.gate.set()
        assert all(r.code == S.OK for r in await asyncio.gather(*blocked))


async def test_deadline_cap_cancels_a_handler_whatever_the_caller_asks(
    alice: Signer, bob: Signer
) -> None:
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, limits=Limits(max_deadline_s=0.3)) as server:
        reply = await echo(server, alice, "sleep", timeout=600)
        assert reply.code == S.DEADLINE_EXCEEDED and "budget of 0.300 s" in reply.details
        assert miner.cancelled.is_set()
        assert (await echo(server, alice)).code == S.OK


async def test_chunk_cap_ends_a_stream_with_resource_exhausted(alice: Signer, bob: Signer) -> None:
    async with (
        MinerServer(EchoMiner(), bob, limits=Limits(max_stream_chunks=5)) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for chunk in stream_call(channel, server, alice, 50, 5):
                got.append(chunk)
        assert len(got) == 5 and info.value.code() == S.RESOURCE_EXHAUSTED
        assert "max_stream_chunks" in (info.value.details() or "")
        assert len([c async for c in stream_call(channel, server, alice, 5, 5)]) == 5


async def test_cancelled_stream_is_counted_cancelled_quietly(
    alice: Signer, bob: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        MinerServer(EchoMiner(), bob) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        for _ in range(3):
            call = stream_call(channel, server, alice, 1000, 10, "x" * 100_000)
            seen = 0
            async for _ in call:
                seen += 1
                if seen == 3:
                    break
            await asyncio.sleep(0.2)  # the miner is mid-write, blocked on flow control
            call.cancel()
        await eventually(lambda: requests_with(server, "CANCELLED") == 3)
        assert requests_with(server, "INTERNAL") == 0
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert (await echo(server, alice)).code == S.OK


async def test_streams_per_connection_are_capped(alice: Signer, bob: Signer) -> None:
    miner = ScriptedMiner()
    limits = Limits(max_streams_per_connection=2)
    async with (
        MinerServer(miner, bob, limits=limits) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        hello = echo_pb2.EchoRequest(text="hello").SerializeToString()
        md = signed_metadata(alice, hello, server.hotkey)
        await channel.unary_unary(ECHO)(hello, metadata=md, timeout=5)  # SETTINGS received
        calls = []
        for i in range(5):
            data = echo_pb2.EchoRequest(text=f"block-{i}").SerializeToString()
            md = signed_metadata(alice, data, server.hotkey)
            calls.append(channel.unary_unary(ECHO)(data, metadata=md, timeout=10))
        await eventually(lambda: len(miner.started) >= 2)
        await asyncio.sleep(0.2)
        # hello and at most 2 more: the rest wait on the client, or are refused by HTTP/2
        # (REFUSED_STREAM, safe to retry) while a just-closed stream still counts.
        assert len(miner.started) <= 3
        miner.gate.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert all(r.code() == S.UNAVAILABLE for r in refused)
        assert len(refused) <= 3 and len(miner.served) == 1 + 5 - len(refused)


async def test_an_honest_client_past_the_stream_cap_queues_instead_of_failing(
    alice: Signer, bob: Signer
) -> None:
    from subnetkit.validator.client import MinerClient, Target

    method = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
    limits = Limits(max_streams_per_connection=4)
    async with (
        MinerServer(EchoMiner(), bob, limits=limits) as server,
        MinerClient(alice, max_concurrency=64) as client,
    ):
        target = Target(bob.ss58, "127.0.0.1", server.port)
        request = echo_pb2.EchoRequest(text="hi")
        for _ in range(3):
            results = await client.query([target] * 64, method, request, timeout=10)
            assert all(r.ok for r in results), {r.error for r in results if r.error}


async def test_health_watch_streams_are_bounded(alice: Signer, bob: Signer) -> None:
    async with (
        MinerServer(EchoMiner(), bob, limits=Limits(max_health_watchers=2)) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = health_pb2_grpc.HealthStub(channel)
        watches = [stub.Watch(health_pb2.HealthCheckRequest(), timeout=10) for _ in range(2)]
        for watch in watches:
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        extra = stub.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await extra.read()
        assert info.value.code() == S.RESOURCE_EXHAUSTED
        assert (await stub.Check(health_pb2.HealthCheckRequest())).status == 1
        watches[0].cancel()
        await eventually(lambda: server._health.watchers == 1)
        again = stub.Watch(health_pb2.HealthCheckRequest(), timeout=10)
        assert (await again.read()).status == health_pb2.HealthCheckResponse.SERVING
        again.cancel()
        watches[1].cancel()


async def test_idle_connections_are_closed(alice: Signer, bob: Signer) -> None:
    async with MinerServer(EchoMiner(), bob, limits=Limits(max_connection_idle_s=0.2)) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            data = echo_pb2.EchoRequest(text="hi").SerializeToString()
            md = signed_metadata(alice, data, server.hotkey)
            await channel.unary_unary(ECHO)(data, metadata=md, timeout=5)
            assert channel.get_state() == grpc.ChannelConnectivity.READY
            await eventually(lambda: channel.get_state() == grpc.ChannelConnectivity.IDLE)
        assert (await echo(server, alice)).code == S.OK


async def test_connection_age_is_capped(alice: Signer, bob: Signer) -> None:
    miner = ScriptedMiner()
    limits = Limits(max_connection_age_s=0.3, connection_age_grace_s=0.2)
    async with MinerServer(miner, bob, limits=limits) as server:
        reply = await echo(server, alice, "block", timeout=10)
        assert reply.code == S.UNAVAILABLE  # cut at age + grace, not at the caller's 10 s
        miner.gate.set()
        assert (await echo(server, alice)).code == S.OK


async def test_ping_flood_gets_goaway(alice: Signer, bob: Signer) -> None:
    miner = ScriptedMiner()
    pinger = [
        ("grpc.keepalive_time_ms", 20),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_time_between_pings_ms", 10),
    ]
    async with MinerServer(miner, bob, limits=Limits(max_ping_strikes=1)) as server:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}", options=pinger) as ch:
            data = echo_pb2.EchoRequest(text="block").SerializeToString()
            md = signed_metadata(alice, data, server.hotkey)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await ch.unary_unary(ECHO)(data, metadata=md, timeout=10)
            assert info.value.code() == S.UNAVAILABLE
            assert "many pings" in (info.value.details() or "")
        miner.gate.set()
        assert (await echo(server, alice)).code == S.OK


async def test_calls_past_the_servers_cap_are_refused_and_it_serves_on(
    alice: Signer, bob: Signer
) -> None:
    """Past ``max_concurrent_rpcs`` calls in progress, gRPC refuses the next one with
    RESOURCE_EXHAUSTED; the calls held are served, and so is the next one once they end."""
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, limits=Limits(max_concurrent_rpcs=2)) as server:
        held = [asyncio.ensure_future(echo(server, alice, f"block{i}")) for i in range(2)]
        await eventually(lambda: len(miner.started) == 2)
        refused = await echo(server, alice, "late")
        assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "late" not in miner.started  # refused before the pipeline ran
        miner.gate.set()
        assert [(await call).code for call in held] == [grpc.StatusCode.OK] * 2
        after = await echo(server, alice, "after")
        assert after.code == grpc.StatusCode.OK and miner.served[-1] == "after"


async def test_caps_per_synapse_apply_to_that_synapse_only(alice: Signer, bob: Signer) -> None:
    """A synapse's own deadline and chunk caps bind it; the other synapse keeps the server-wide
    caps (a quick lookup and a long stream need different bounds)."""
    miner = ScriptedMiner()
    limits = Limits(
        synapse_caps={
            "Echo": SynapseCaps(max_deadline_s=0.3),
            "EchoStream": SynapseCaps(max_stream_chunks=3),
        }
    )
    async with (
        MinerServer(miner, bob, limits=limits) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        reply = await echo(server, alice, "sleep", timeout=600)
        assert reply.code == S.DEADLINE_EXCEEDED and "budget of 0.300 s" in reply.details
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for chunk in stream_call(channel, server, alice, 10, 5):
                got.append(chunk)
        assert len(got) == 3 and info.value.code() == S.RESOURCE_EXHAUSTED
        # the server-wide caps (120 s budget, 10,000 chunks) still hold for the other synapse
        assert server._pipeline.budget_caps[ECHO_STREAM] == Limits().max_stream_s
        assert (await echo(server, alice)).code == S.OK


def test_caps_for_a_synapse_the_miner_does_not_serve_are_refused(bob: Signer) -> None:
    with pytest.raises(ConfigError, match=r"Ech0.*it serves: Echo, EchoStream"):
        MinerServer(EchoMiner(), bob, limits=Limits(synapse_caps={"Ech0": SynapseCaps()}))

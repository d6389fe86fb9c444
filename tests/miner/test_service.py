"""Server plumbing: start-up validation, worker threads, health, reflection, metrics, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import CollectorRegistry

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer
from subnetkit.miner import CallContext, Miner, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.testing import eventually
from subnetkit.validator.client import MinerClient, Target
from tests.miner.fakes import ScriptedMiner, ThreadedMiner
from tests.wire.raw import raw_unary, signed_metadata

S = grpc.StatusCode
SERVICE = echo_pb2.DESCRIPTOR.services_by_name["Echo"]


class HalfMiner(Miner):
    service = SERVICE

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse()


class UnaryAsGenerator(HalfMiner):
    async def EchoStream(  # type: ignore[override]
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> echo_pb2.EchoChunk:
        return echo_pb2.EchoChunk()


class NoService(Miner):
    pass


def test_missing_handler_is_named_at_startup(bob: Signer) -> None:
    with pytest.raises(ConfigError, match=r"missing HalfMiner\.EchoStream"):
        MinerServer(HalfMiner(), bob)


def test_stream_rpc_must_be_a_generator(bob: Signer) -> None:
    with pytest.raises(ConfigError, match=r"UnaryAsGenerator\.EchoStream must be a generator"):
        MinerServer(UnaryAsGenerator(), bob)


def test_service_must_be_named(bob: Signer) -> None:
    with pytest.raises(ConfigError, match=r"NoService\.service is not set"):
        MinerServer(NoService(), bob)


class MisnamedService(HalfMiner):
    service = (echo_pb2, "Eco")


def test_a_misnamed_service_lists_the_module_s_services(bob: Signer) -> None:
    with pytest.raises(ConfigError, match=r"MisnamedService\.service: .* no service 'Eco' .*Echo"):
        MinerServer(MisnamedService(), bob)


async def test_port_in_use_is_a_config_error(bob: Signer) -> None:
    async with MinerServer(ScriptedMiner(), bob) as first:
        with pytest.raises(ConfigError, match=rf"port {first.port} .* already in use"):
            async with MinerServer(ScriptedMiner(), bob, port=first.port):
                pass


async def test_plain_def_handlers_run_in_worker_threads(alice: Signer, bob: Signer) -> None:
    async with (
        MinerServer(ThreadedMiner(), bob) as server,
        MinerClient(alice) as client,
    ):
        target = Target(bob.ss58, "127.0.0.1", server.port)
        result = await client.query_one(
            target, SERVICE.methods_by_name["Echo"], echo_pb2.EchoRequest(), 5
        )
        assert result.ok, result.error
        assert result.response.text.startswith("miner-handler")  # type: ignore[union-attr]
        assert result.response.text != threading.current_thread().name  # type: ignore[union-attr]
        chunks = [
            item
            async for _, item in client.stream(
                [target],
                SERVICE.methods_by_name["EchoStream"],
                echo_pb2.EchoStreamRequest(count=3),
                5,
            )
        ]
        assert [c.index for c in chunks] == [0, 1, 2]  # type: ignore[union-attr]
        assert all(c.text.startswith("miner-handler") for c in chunks)  # type: ignore[union-attr]


async def test_health_and_reflection(alice: Signer, bob: Signer) -> None:
    async with (
        MinerServer(ScriptedMiner(), bob) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE.full_name):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names = set()
        async for reply in stub.ServerReflectionInfo(ask(), timeout=5):
            names |= {s.name for s in reply.list_services_response.service}
        assert SERVICE.full_name in names and "grpc.health.v1.Health" in names


async def test_graceful_shutdown_reports_not_serving_then_drains(
    alice: Signer, bob: Signer
) -> None:
    miner = ScriptedMiner()
    server = MinerServer(miner, bob)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE.full_name), timeout=10
        )
        stream = watch.__aiter__()
        first = await stream.__anext__()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        data = echo_pb2.EchoRequest(text="block").SerializeToString()
        in_flight = asyncio.ensure_future(
            raw_unary(server.port, data, signed_metadata(alice, data, server.hotkey))
        )
        await eventually(lambda: miner.started == ["block"])
        stopping = asyncio.ensure_future(server.stop(grace=5))
        async with asyncio.timeout(5):
            second = await stream.__anext__()
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()  # a watch is an RPC too: it would hold the drain for the whole grace
        miner.gate.set()  # the in-flight request finishes inside the grace period
        assert (await in_flight).code == S.OK
        async with asyncio.timeout(10):
            await stopping
    finally:
        await channel.close()
        await server.stop(0)


async def test_metrics_on_a_per_server_registry(alice: Signer, bob: Signer) -> None:
    registry = CollectorRegistry()
    async with MinerServer(ScriptedMiner(), bob, metrics_registry=registry) as server:
        data = echo_pb2.EchoRequest(text="m").SerializeToString()
        for _ in range(3):
            assert (
                await raw_unary(server.port, data, signed_metadata(alice, data, bob.ss58))
            ).code == S.OK
        assert (await raw_unary(server.port, data, None)).code == S.UNAUTHENTICATED
    labels = {"synapse": "Echo", "caller": "authenticated", "status": "OK"}
    assert registry.get_sample_value("subnetkit_miner_requests_total", labels) == 3
    rejected = {"synapse": "Echo", "caller": "unauthenticated", "status": "UNAUTHENTICATED"}
    assert registry.get_sample_value("subnetkit_miner_requests_total", rejected) == 1
    count = registry.get_sample_value(
        "subnetkit_miner_request_duration_seconds_count", {"synapse": "Echo"}
    )
    assert count == 4
    assert registry.get_sample_value("subnetkit_miner_in_flight", {"synapse": "Echo"}) == 0


async def test_two_servers_in_one_process_have_separate_metrics(
    bob: Signer, charlie: Signer
) -> None:
    async with (
        MinerServer(ScriptedMiner(), bob) as one,
        MinerServer(ScriptedMiner(), charlie) as two,
    ):
        assert one.metrics.registry is not two.metrics.registry
        assert one.port != two.port

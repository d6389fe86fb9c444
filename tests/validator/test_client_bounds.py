"""A stream a client verifies is bounded by what it holds, not by what the miner chooses to send."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from subnetkit.core.keys import dev_signer
from subnetkit.miner import CallContext, Limits, Miner, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.validator.client import CHUNK_OVERHEAD_BYTES, MinerClient, QueryError, Target

S = grpc.StatusCode
SERVICE = echo_pb2.DESCRIPTOR.services_by_name["Echo"]
ECHO = SERVICE.methods_by_name["Echo"]
STREAM = SERVICE.methods_by_name["EchoStream"]
ALICE, BOB = dev_signer("alice"), dev_signer("bob")


class EmptyChunkMiner(Miner):
    """Answers a stream with ``count`` empty chunks: zero bytes each on the wire's payload."""

    service = SERVICE

    def __init__(self) -> None:
        self.sent = 0

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse(text=request.text)

    async def EchoStream(
        self, request: echo_pb2.EchoStreamRequest, context: CallContext
    ) -> AsyncIterator[echo_pb2.EchoChunk]:
        for _ in range(request.count):
            self.sent += 1
            yield echo_pb2.EchoChunk()


async def collect(client: MinerClient, target: Target, count: int, verified: bool) -> list[object]:
    request = echo_pb2.EchoStreamRequest(count=count)
    return [
        item async for _, item in client.stream([target], STREAM, request, 20, verified=verified)
    ]


async def test_empty_chunk_flood_is_cut_off_by_per_chunk_overhead() -> None:
    miner = EmptyChunkMiner()
    limits = Limits()
    async with MinerServer(miner, BOB, limits=limits) as server:
        target = Target(BOB.ss58, "127.0.0.1", server.port)
        async with MinerClient(ALICE, max_response_bytes=64 * 1024) as client:
            items = await collect(client, target, 50_000, verified=True)
            assert len(items) == 1 and isinstance(items[0], QueryError), items[:3]
            assert items[0].status == S.RESOURCE_EXHAUSTED
            assert f"counting {CHUNK_OVERHEAD_BYTES} bytes of overhead" in items[0].message
            # The miner is still serving, and an honest small stream still verifies.
            ok = await collect(client, target, 3, verified=True)
            assert len(ok) == 3 and not any(isinstance(i, QueryError) for i in ok)
            answer = await client.query_one(target, ECHO, echo_pb2.EchoRequest(text="hi"), 5)
            assert answer.ok
        assert miner.sent < 50_000  # cut off: the flood was never fully produced


async def test_chunk_count_is_capped_in_unverified_mode_too() -> None:
    async with MinerServer(EmptyChunkMiner(), BOB, limits=Limits()) as srv:
        target = Target(BOB.ss58, "127.0.0.1", srv.port)
        async with MinerClient(ALICE, max_stream_chunks=100) as client:
            items = await collect(client, target, 5_000, verified=False)
            chunks = [i for i in items if not isinstance(i, QueryError)]
            errors = [i for i in items if isinstance(i, QueryError)]
            assert len(chunks) == 100
            assert len(errors) == 1 and errors[0].status == S.RESOURCE_EXHAUSTED
            assert "max_stream_chunks (100)" in errors[0].message
            assert len(await collect(client, target, 2, verified=False)) == 2

"""``subnetkit.testing``: a miner's handler called through the real pipeline, and bounded waits."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import dev_signer
from subnetkit.miner import CallContext
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.testing import MinerTestEnv, eventually, wait_for_port
from subnetkit.validator.results import QueryError, QueryFailed

S = grpc.StatusCode


class RecordingMiner(EchoMiner):
    """Echo that remembers what its handler was told about each call."""

    def __init__(self) -> None:
        self.contexts: list[CallContext] = []

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        self.contexts.append(context)
        if request.text == "slow":
            await asyncio.sleep(3600)
        return echo_pb2.EchoResponse(text=request.text)


async def test_call_reaches_the_handler_with_the_verified_caller_and_its_deadline() -> None:
    miner = RecordingMiner()
    async with MinerTestEnv(miner) as env:
        reply = await env.call("Echo", echo_pb2.EchoRequest(text="hi"), caller="bob", timeout=4)
    assert isinstance(reply, echo_pb2.EchoResponse) and reply.text == "hi"
    [context] = miner.contexts
    assert context.caller == dev_signer("bob").ss58
    assert context.synapse == "Echo" and context.method == "/subnets.echo.v1.Echo/Echo"
    remaining = context.time_remaining()
    assert remaining is not None and 0 < remaining <= 4


async def test_the_server_s_refusals_come_back_as_statuses() -> None:
    eve = dev_signer("eve")
    blacklist = {eve.ss58: "not registered"}.get
    async with MinerTestEnv(RecordingMiner(), blacklist=blacklist) as env:
        with pytest.raises(QueryFailed) as refused:
            await env.call("Echo", echo_pb2.EchoRequest(text="x"), caller=eve)
        late = await env.result("Echo", echo_pb2.EchoRequest(text="slow"), timeout=0.2)
        full = await env.result((echo_pb2, "Echo.Echo"), echo_pb2.EchoRequest(text="ok"))
    assert refused.value.status == S.PERMISSION_DENIED and "not registered" in refused.value.message
    assert late.error is not None and late.error.status == S.DEADLINE_EXCEEDED
    assert full.ok


async def test_stream_yields_verified_chunks() -> None:
    async with MinerTestEnv(EchoMiner()) as env:
        items = await env.stream("EchoStream", echo_pb2.EchoStreamRequest(text="s", count=3))
    assert not any(isinstance(i, QueryError) for i in items)
    assert [i.index for i in items] == [0, 1, 2]  # type: ignore[union-attr]


async def test_an_unknown_rpc_name_says_what_the_service_has() -> None:
    async with MinerTestEnv(EchoMiner()) as env:
        with pytest.raises(ConfigError, match=r"has no RPC 'Ech' \(it has: Echo, EchoStream\)"):
            await env.call("Ech", echo_pb2.EchoRequest())


async def test_eventually_is_bounded_and_names_what_never_happened() -> None:
    flag: list[int] = []
    asyncio.get_running_loop().call_later(0.01, flag.append, 1)
    await eventually(lambda: flag, timeout=2)

    def never() -> bool:
        return False

    with pytest.raises(TimeoutError, match=r"never still false after 0\.05 s"):
        await eventually(never, timeout=0.05)


async def test_wait_for_port_sees_a_listener_and_times_out_without_one() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        await wait_for_port("127.0.0.1", port, timeout=5)
    with pytest.raises(TimeoutError, match=f"127.0.0.1:{port}"):
        await wait_for_port("127.0.0.1", port, timeout=0.3)

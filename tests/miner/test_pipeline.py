"""Every status the miner returns, each from a real bad request to a real server on port 0.

After each bad request the same server must still serve a good one: a rejection loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import grpc
import pytest

from subnetkit.core.keys import Signer
from subnetkit.miner import CallContext, Limits, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.testing import eventually
from tests.miner.fakes import ScriptedMiner
from tests.wire.raw import ECHO, raw_unary, signed_metadata

S = grpc.StatusCode
GOOD = echo_pb2.EchoRequest(text="good").SerializeToString()


async def assert_still_serves(server: MinerServer, caller: Signer) -> None:
    reply = await raw_unary(server.port, GOOD, signed_metadata(caller, GOOD, server.hotkey))
    assert reply.code == S.OK, reply.details
    assert echo_pb2.EchoResponse.FromString(reply.body or b"").text == "good"


@pytest.fixture
async def server(bob: Signer, eve: Signer):  # type: ignore[no-untyped-def]
    blacklist = {eve.ss58: "eve is not registered on this subnet"}
    limits = Limits(max_request_bytes=1024)
    async with MinerServer(ScriptedMiner(), bob, blacklist=blacklist.get, limits=limits) as srv:
        yield srv


async def test_good_request_is_served_and_signed(server: MinerServer, alice: Signer) -> None:
    reply = await raw_unary(server.port, GOOD, signed_metadata(alice, GOOD, server.hotkey))
    assert reply.code == S.OK
    assert reply.trailer["sk-miner"] == server.hotkey
    assert len(reply.trailer["sk-response-signature-bin"]) == 64


async def test_missing_metadata(server: MinerServer, alice: Signer) -> None:
    reply = await raw_unary(server.port, GOOD, None)
    assert reply.code == S.UNAUTHENTICATED
    assert "auth metadata missing" in reply.details and "sk-signature-bin" in reply.details
    await assert_still_serves(server, alice)


async def test_malformed_nonce_and_caller(server: MinerServer, alice: Signer) -> None:
    md = dict(signed_metadata(alice, GOOD, server.hotkey))
    md["sk-nonce"] = "yesterday"
    reply = await raw_unary(server.port, GOOD, list(md.items()))
    assert reply.code == S.UNAUTHENTICATED and "sk-nonce" in reply.details
    md = dict(signed_metadata(alice, GOOD, server.hotkey))
    md["sk-caller"] = "not-an-address"
    reply = await raw_unary(server.port, GOOD, list(md.items()))
    assert reply.code == S.UNAUTHENTICATED and "SS58" in reply.details
    await assert_still_serves(server, alice)


async def test_forged_signature(server: MinerServer, alice: Signer) -> None:
    md = dict(signed_metadata(alice, GOOD, server.hotkey))
    md["sk-signature-bin"] = os.urandom(64)
    reply = await raw_unary(server.port, GOOD, list(md.items()))
    assert reply.code == S.UNAUTHENTICATED
    assert "bad signature" in reply.details
    await assert_still_serves(server, alice)


async def test_signature_by_another_key(
    server: MinerServer, alice: Signer, charlie: Signer
) -> None:
    # Charlie signs but claims to be Alice.
    md = signed_metadata(charlie, GOOD, server.hotkey, claim=alice.ss58)
    reply = await raw_unary(server.port, GOOD, md)
    assert reply.code == S.UNAUTHENTICATED and "bad signature" in reply.details
    await assert_still_serves(server, alice)


async def test_body_swapped_after_signing(server: MinerServer, alice: Signer) -> None:
    md = signed_metadata(alice, GOOD, server.hotkey)
    other = echo_pb2.EchoRequest(text="evil").SerializeToString()
    reply = await raw_unary(server.port, other, md)
    assert reply.code == S.UNAUTHENTICATED and "bad signature" in reply.details
    await assert_still_serves(server, alice)


async def test_replayed_nonce(server: MinerServer, alice: Signer) -> None:
    md = signed_metadata(alice, GOOD, server.hotkey)
    first = await raw_unary(server.port, GOOD, md)
    assert first.code == S.OK
    again = await raw_unary(server.port, GOOD, md)
    assert again.code == S.UNAUTHENTICATED and "replayed nonce" in again.details
    await assert_still_serves(server, alice)


async def test_stale_nonce(server: MinerServer, alice: Signer) -> None:
    nonce = time.time_ns() - 11 * 10**9
    reply = await raw_unary(
        server.port, GOOD, signed_metadata(alice, GOOD, server.hotkey, nonce=nonce)
    )
    assert reply.code == S.UNAUTHENTICATED and "stale request" in reply.details
    await assert_still_serves(server, alice)


async def test_future_nonce(server: MinerServer, alice: Signer) -> None:
    nonce = time.time_ns() + 3 * 10**9
    reply = await raw_unary(
        server.port, GOOD, signed_metadata(alice, GOOD, server.hotkey, nonce=nonce)
    )
    assert reply.code == S.UNAUTHENTICATED and "in the future" in reply.details
    await assert_still_serves(server, alice)


async def test_wrong_receiver(server: MinerServer, alice: Signer, charlie: Signer) -> None:
    reply = await raw_unary(server.port, GOOD, signed_metadata(alice, GOOD, charlie.ss58))
    assert reply.code == S.UNAUTHENTICATED
    assert f"addressed to {charlie.ss58}" in reply.details
    await assert_still_serves(server, alice)


async def test_blacklisted_caller(server: MinerServer, alice: Signer, eve: Signer) -> None:
    reply = await raw_unary(server.port, GOOD, signed_metadata(eve, GOOD, server.hotkey))
    assert reply.code == S.PERMISSION_DENIED
    assert "blacklisted: eve is not registered" in reply.details
    # counted as a blacklisted caller: its claimed hotkey was never authenticated
    counted = server.metrics.registry.get_sample_value(
        "subnetkit_miner_requests_total",
        {"synapse": "Echo", "caller": "blacklisted", "status": "PERMISSION_DENIED"},
    )
    assert counted == 1
    await assert_still_serves(server, alice)


async def test_oversize_body(server: MinerServer, alice: Signer) -> None:
    big = echo_pb2.EchoRequest(payload=b"x" * 2000).SerializeToString()
    reply = await raw_unary(server.port, big, signed_metadata(alice, big, server.hotkey))
    assert reply.code == S.RESOURCE_EXHAUSTED
    assert "limit of 1024" in reply.details
    await assert_still_serves(server, alice)


async def test_garbage_body(server: MinerServer, alice: Signer) -> None:
    junk = b"\xff\xff\xff\xff"
    reply = await raw_unary(server.port, junk, signed_metadata(alice, junk, server.hotkey))
    assert reply.code == S.INVALID_ARGUMENT
    assert "does not parse as subnets.echo.v1.EchoRequest" in reply.details
    await assert_still_serves(server, alice)


async def test_unknown_method(server: MinerServer, alice: Signer) -> None:
    path = "/subnets.echo.v1.Echo/Nope"
    reply = await raw_unary(
        server.port, GOOD, signed_metadata(alice, GOOD, server.hotkey, method=path), method=path
    )
    assert reply.code == S.UNIMPLEMENTED
    assert "Nope is not served" in reply.details and ECHO in reply.details
    await assert_still_serves(server, alice)


async def test_handler_raises(
    server: MinerServer, alice: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    body = echo_pb2.EchoRequest(text="raise").SerializeToString()
    with caplog.at_level(logging.ERROR, logger="subnetkit.miner.handlers"):
        reply = await raw_unary(server.port, body, signed_metadata(alice, body, server.hotkey))
    assert reply.code == S.INTERNAL
    assert "handler failed" in reply.details
    assert "secret internal detail" not in reply.details and "Traceback" not in reply.details
    assert any(
        r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records
    )
    await assert_still_serves(server, alice)


async def test_handler_wrong_type_is_internal(server: MinerServer, alice: Signer) -> None:
    body = echo_pb2.EchoRequest(text="wrong-type").SerializeToString()
    reply = await raw_unary(server.port, body, signed_metadata(alice, body, server.hotkey))
    assert reply.code == S.INTERNAL and "wrong message type" in reply.details
    await assert_still_serves(server, alice)


async def test_handler_past_deadline_is_cancelled(server: MinerServer, alice: Signer) -> None:
    body = echo_pb2.EchoRequest(text="sleep").SerializeToString()
    md = signed_metadata(alice, body, server.hotkey)
    reply = await raw_unary(server.port, body, md, timeout=0.3)
    assert reply.code == S.DEADLINE_EXCEEDED
    miner = server.miner
    assert isinstance(miner, ScriptedMiner)
    async with asyncio.timeout(5):
        await miner.cancelled.wait()
    labels = {"synapse": "Echo", "caller": "authenticated", "status": "DEADLINE_EXCEEDED"}
    registry = server.metrics.registry
    await eventually(lambda: registry.get_sample_value("subnetkit_miner_requests_total", labels))
    await assert_still_serves(server, alice)


async def test_server_side_deadline_without_caller_deadline(bob: Signer, alice: Signer) -> None:
    """With no caller deadline the server's default budget cancels the handler itself."""
    limits = Limits(default_timeout_s=0.2)
    async with MinerServer(ScriptedMiner(), bob, limits=limits) as srv:
        body = echo_pb2.EchoRequest(text="sleep").SerializeToString()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as channel:
            call = channel.unary_unary(ECHO)(
                body, metadata=signed_metadata(alice, body, srv.hotkey)
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call
        assert info.value.code() == S.DEADLINE_EXCEEDED
        assert "did not finish within its budget of" in (info.value.details() or "")
        await assert_still_serves(srv, alice)


async def test_blacklist_hook_can_be_swapped_at_runtime_and_may_be_async(
    server: MinerServer, alice: Signer
) -> None:
    async def registered_only(caller: str) -> str | None:
        return "not registered on netuid 1"

    server.blacklist = registered_only
    reply = await raw_unary(server.port, GOOD, signed_metadata(alice, GOOD, server.hotkey))
    assert reply.code == S.PERMISSION_DENIED and "not registered on netuid 1" in reply.details

    def failing(caller: str) -> str | None:
        raise RuntimeError("metagraph unavailable")

    server.blacklist = failing  # a broken hook fails closed, and says so
    reply = await raw_unary(server.port, GOOD, signed_metadata(alice, GOOD, server.hotkey))
    assert reply.code == S.INTERNAL and "blacklist check failed" in reply.details
    server.blacklist = lambda caller: None
    await assert_still_serves(server, alice)


class DeadlineMiner(ScriptedMiner):
    """Reports the deadline its handler was given, as seconds remaining, in the response text."""

    async def Echo(
        self, request: echo_pb2.EchoRequest, context: CallContext
    ) -> echo_pb2.EchoResponse:
        return echo_pb2.EchoResponse(text=f"{context.time_remaining():.6f}")


async def test_handler_deadline_counts_admission_time_once(bob: Signer, alice: Signer) -> None:
    async def slow_blacklist(caller: str) -> None:
        await asyncio.sleep(0.5)  # a slow admission step (e.g. a metagraph lookup)

    async with MinerServer(DeadlineMiner(), bob, blacklist=slow_blacklist) as srv:
        sent = time.monotonic()
        reply = await raw_unary(srv.port, GOOD, signed_metadata(alice, GOOD, srv.hotkey), timeout=3)
        assert reply.code == S.OK, reply.details
        remaining = float(echo_pb2.EchoResponse.FromString(reply.body or b"").text)
        # The handler's deadline is the caller's: 3 s after sending, not 0.5 s earlier. (The
        # slack allows for the loop's coarse timers; counting admission twice loses 0.5 s.)
        assert remaining <= 3.0 - 0.5 + 0.05
        assert remaining > 3.0 - (time.monotonic() - sent) - 0.1

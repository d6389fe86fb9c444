"""MinerClient against real miners: fan-out, per-miner failures as values, signed responses."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.miner import Limits, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.validator.client import MinerClient, QueryError, QueryFailed, Target
from subnetkit.wire import protocol
from subnetkit.wire.request_metadata import parse_request_metadata
from tests.miner.fakes import ScriptedMiner

S = grpc.StatusCode
SERVICE = echo_pb2.DESCRIPTOR.services_by_name["Echo"]
ECHO = SERVICE.methods_by_name["Echo"]
STREAM = SERVICE.methods_by_name["EchoStream"]
ALICE = dev_signer("alice")


async def swarm(n: int) -> AsyncIterator[list[tuple[MinerServer, Target]]]:
    servers = [MinerServer(EchoMiner(), Signer.generate()) for _ in range(n)]
    await asyncio.gather(*(s.start() for s in servers))
    try:
        yield [(s, Target(s.hotkey, "127.0.0.1", s.port)) for s in servers]
    finally:
        await asyncio.gather(*(s.stop(0) for s in servers))


@pytest.fixture
async def miners() -> AsyncIterator[list[tuple[MinerServer, Target]]]:
    async for group in swarm(16):
        yield group


async def test_fan_out_returns_one_result_per_target_in_order(miners) -> None:  # type: ignore[no-untyped-def]
    targets = [t for _, t in miners]
    async with MinerClient(ALICE, max_concurrency=8) as client:
        for _ in range(3):
            results = await client.query(targets, ECHO, echo_pb2.EchoRequest(text="hi"), timeout=5)
            assert [r.target for r in results] == targets
            assert all(r.ok and r.response.text == "hi" for r in results)  # type: ignore[union-attr]
            assert all(r.latency_s > 0 for r in results)
        assert client.open_channels == len(targets)  # reused, one per endpoint


async def test_one_dead_miner_is_a_value_not_an_exception(miners) -> None:  # type: ignore[no-untyped-def]
    server, dead = miners[0]
    await server.stop(0)
    targets = [t for _, t in miners]
    async with MinerClient(ALICE) as client:
        results = await client.query(
            targets, ECHO.full_name, echo_pb2.EchoRequest(text="x"), timeout=3
        )
    assert results[0].error is not None and results[0].error.status == S.UNAVAILABLE
    assert results[0].error.hotkey == dead.hotkey
    assert all(r.ok for r in results[1:])


async def test_wrong_hotkey_for_endpoint_is_rejected_by_the_miner(miners) -> None:  # type: ignore[no-untyped-def]
    _, target = miners[0]
    impostor = Target(dev_signer("charlie").ss58, target.host, target.port)
    async with MinerClient(ALICE) as client:
        result = await client.query_one(impostor, ECHO, echo_pb2.EchoRequest(), timeout=3)
    assert result.error is not None and result.error.status == S.UNAUTHENTICATED
    assert "addressed to" in result.error.message


async def test_total_deadline_bounds_the_whole_query() -> None:
    bob = dev_signer("bob")
    async with MinerServer(ScriptedMiner(), bob) as server:
        target = Target(bob.ss58, "127.0.0.1", server.port)
        async with MinerClient(ALICE, max_concurrency=1) as client:
            started = time.monotonic()
            results = await client.query(
                [target, target, target], ECHO, echo_pb2.EchoRequest(text="sleep"), timeout=0.3
            )
            elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert all(r.error is not None and r.error.status == S.DEADLINE_EXCEEDED for r in results)
    # The one that was called timed out on the client side: the message names the timeout.
    assert "within the query's timeout of 0.3 s" in (
        results[0].error.message if results[0].error else ""
    )
    # The 2nd and 3rd never got a slot: the message says how to fix that.
    assert "max_concurrency" in (results[2].error.message if results[2].error else "")


async def test_ed25519_keys_on_both_ends() -> None:
    miner_key = Signer.from_uri("//Bob", "ed25519")
    caller_key = Signer.from_uri("//Alice", "ed25519")
    async with MinerServer(EchoMiner(), miner_key) as server:
        target = Target(miner_key.ss58, "127.0.0.1", server.port, crypto="ed25519")
        async with MinerClient(caller_key) as client:
            result = await client.query_one(
                target, ECHO, echo_pb2.EchoRequest(text="ed"), timeout=3
            )
            assert result.ok, result.error
            # Claiming the wrong key type for the miner fails response verification.
            wrong = Target(miner_key.ss58, "127.0.0.1", server.port, crypto="sr25519")
            bad = await client.query_one(wrong, ECHO, echo_pb2.EchoRequest(text="ed"), timeout=3)
            assert bad.error is not None and bad.error.status == S.UNAUTHENTICATED


async def test_value_is_the_verified_response_or_raises_why_there_is_none() -> None:
    bob = dev_signer("bob")
    async with MinerServer(EchoMiner(), bob) as server, MinerClient(ALICE) as client:
        good = Target(bob.ss58, "127.0.0.1", server.port)
        answered = await client.query_one(good, "Echo.Echo", echo_pb2.EchoRequest(text="v"), 3)
        assert answered.value.text == "v"
        impostor = Target(ALICE.ss58, "127.0.0.1", server.port)  # bob answers, not alice
        refused = await client.query_one(impostor, ECHO, echo_pb2.EchoRequest(text="v"), 3)
    with pytest.raises(QueryFailed) as caught:
        refused.value  # noqa: B018
    assert caught.value.error is refused.error and caught.value.status == refused.error.status
    assert ALICE.ss58 in caught.value.message


async def test_stream_yields_verified_chunks(miners) -> None:  # type: ignore[no-untyped-def]
    targets = [t for _, t in miners[:4]]
    async with MinerClient(ALICE) as client:
        seen: dict[str, list[int]] = {}
        async for target, item in client.stream(
            targets, STREAM, echo_pb2.EchoStreamRequest(text="s", count=5), timeout=5
        ):
            assert not isinstance(item, QueryError), item
            seen.setdefault(target.hotkey, []).append(item.index)  # type: ignore[attr-defined]
    assert seen == {t.hotkey: [0, 1, 2, 3, 4] for t in targets}


async def test_stream_handler_failure_yields_no_unverified_chunks() -> None:
    bob = dev_signer("bob")
    request = echo_pb2.EchoStreamRequest(text="raise", count=3)  # fails after one chunk
    async with MinerServer(ScriptedMiner(), bob) as server:
        target = Target(bob.ss58, "127.0.0.1", server.port)
        async with MinerClient(ALICE) as client:
            verified = [i async for _, i in client.stream([target], STREAM, request, timeout=5)]
            fast = [
                i
                async for _, i in client.stream(
                    [target], STREAM, request, timeout=5, verified=False
                )
            ]
    # Verified (the default): the chunk sent before the failure never reaches the caller.
    assert len(verified) == 1
    assert isinstance(verified[0], QueryError) and verified[0].status == S.INTERNAL
    # Low-latency opt-out: chunks as they come, then the error that says to discard them.
    assert isinstance(fast[0], echo_pb2.EchoChunk)
    assert isinstance(fast[-1], QueryError) and fast[-1].status == S.INTERNAL


async def test_verified_stream_buffer_is_bounded() -> None:
    bob = dev_signer("bob")
    async with MinerServer(EchoMiner(), bob) as server:
        target = Target(bob.ss58, "127.0.0.1", server.port)
        async with MinerClient(ALICE, max_response_bytes=200) as client:
            request = echo_pb2.EchoStreamRequest(text="x" * 20, count=50)
            items = [i async for _, i in client.stream([target], STREAM, request, timeout=5)]
    assert len(items) == 1 and isinstance(items[0], QueryError)
    assert items[0].status == S.RESOURCE_EXHAUSTED
    assert "max_response_bytes (200)" in items[0].message and "verified=False" in items[0].message


async def test_stream_past_total_deadline_is_not_sent_like_unary() -> None:
    bob = dev_signer("bob")
    async with MinerServer(EchoMiner(), bob) as server:
        target = Target(bob.ss58, "127.0.0.1", server.port)
        async with MinerClient(ALICE) as client:
            unary = await client.query_one(target, ECHO, echo_pb2.EchoRequest(), timeout=0)
            items = [
                i
                async for _, i in client.stream(
                    [target], STREAM, echo_pb2.EchoStreamRequest(count=1), timeout=0
                )
            ]
        assert unary.error is not None and isinstance(items[0], QueryError)
        assert (items[0].status, items[0].message) == (unary.error.status, unary.error.message)
        assert "before this miner was called" in unary.error.message
        # Neither reached the miner: no request was counted there.
        registry = server.metrics.registry
        assert registry.get_sample_value(
            "subnetkit_miner_request_duration_seconds_count", {"synapse": "EchoStream"}
        ) in (None, 0)


async def test_oversize_messages_say_which_limit_to_change() -> None:
    bob = dev_signer("bob")
    limits = Limits(max_request_bytes=1024)  # gRPC's own cap is this + 64 KiB
    async with MinerServer(EchoMiner(), bob, limits=limits) as server:
        target = Target(bob.ss58, "127.0.0.1", server.port)
        async with MinerClient(ALICE) as client:
            huge = echo_pb2.EchoRequest(payload=b"x" * 100_000)
            result = await client.query_one(target, ECHO, huge, timeout=5)
        assert result.error is not None and result.error.status == S.RESOURCE_EXHAUSTED
        assert "over the miner's message size limit" in result.error.message
        assert "send less data per request" in result.error.message
        async with MinerClient(ALICE, max_response_bytes=100) as client:
            echoed = echo_pb2.EchoRequest(payload=b"x" * 500)  # under the miner's limit
            result = await client.query_one(target, ECHO, echoed, timeout=5)
        assert result.error is not None and result.error.status == S.RESOURCE_EXHAUSTED
        assert "raise MinerClient's max_response_bytes (100)" in result.error.message


async def test_misuse_is_a_config_error(miners) -> None:  # type: ignore[no-untyped-def]
    _, target = miners[0]
    async with MinerClient(ALICE) as client:
        with pytest.raises(ConfigError, match=r"takes subnets\.echo\.v1\.EchoRequest"):
            await client.query([target], ECHO, echo_pb2.EchoChunk(), timeout=1)
        with pytest.raises(ConfigError, match=r"streams: use MinerClient\.stream"):
            await client.query([target], STREAM, echo_pb2.EchoStreamRequest(), timeout=1)
        with pytest.raises(ConfigError, match="unknown synapse"):
            await client.query([target], "/nope.Svc/M", echo_pb2.EchoRequest(), timeout=1)


async def test_channel_cache_is_bounded(miners) -> None:  # type: ignore[no-untyped-def]
    targets = [t for _, t in miners]
    async with MinerClient(ALICE, max_channels=4) as client:
        results = await client.query(targets, ECHO, echo_pb2.EchoRequest(), timeout=5)
        assert all(r.ok for r in results)
        assert client.open_channels == 4


# -- adversarial miners: a bare gRPC server that answers with bad response signatures ----------
class LyingMiner:
    """Answers Echo correctly but signs the way ``mode`` says (none/garbage/other key/tampered)."""

    def __init__(self, identity: Signer, mode: str) -> None:
        self.identity, self.mode = identity, mode
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE.full_name,
                    {
                        "Echo": grpc.unary_unary_rpc_method_handler(self.echo),
                        "EchoStream": grpc.unary_stream_rpc_method_handler(self.stream),
                    },
                ),
            )
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def _trailer(self, message: bytes, chunks: int | None = None) -> tuple:  # type: ignore[type-arg]
        if self.mode == "none":
            return ()
        if self.mode == "garbage":
            return (
                (protocol.MD_MINER, self.identity.ss58),
                (protocol.MD_RESPONSE_SIGNATURE, os.urandom(64)),
            )
        if self.mode == "other-key":
            forger = dev_signer("charlie")
            return (
                (protocol.MD_MINER, self.identity.ss58),
                (protocol.MD_RESPONSE_SIGNATURE, forger.sign(message)),
            )
        return protocol.response_trailer(self.identity, message, chunks)

    async def echo(self, body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        auth = parse_request_metadata(context.invocation_metadata() or ())
        out = echo_pb2.EchoResponse(text="honest").SerializeToString()
        message = protocol.response_message(
            version="1",
            method=f"/{SERVICE.full_name}/Echo",
            caller=auth.caller,
            request_hash=protocol.sha256(body),
            nonce=auth.nonce,
            response_hash=protocol.sha256(out),
            miner_crypto="sr25519",
            miner=self.identity.ss58,
        )
        context.set_trailing_metadata(self._trailer(message))
        if self.mode == "tampered":
            return echo_pb2.EchoResponse(text="tampered").SerializeToString()
        return out

    async def stream(self, body: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        auth = parse_request_metadata(context.invocation_metadata() or ())
        chain = protocol.ChunkChain(protocol.sha256(body))
        for i in range(2):
            chunk = echo_pb2.EchoChunk(index=i).SerializeToString()
            chain.add(chunk)
            if self.mode == "tampered" and i == 1:
                chunk = echo_pb2.EchoChunk(index=9).SerializeToString()
            yield chunk
        message = protocol.stream_message(
            version="1",
            method=f"/{SERVICE.full_name}/EchoStream",
            caller=auth.caller,
            request_hash=protocol.sha256(body),
            nonce=auth.nonce,
            chunks=chain.count,
            chain_hash=chain.digest,
            miner_crypto="sr25519",
            miner=self.identity.ss58,
        )
        context.set_trailing_metadata(self._trailer(message, chain.count))


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        ("none", "not signed"),
        ("garbage", "forged"),
        ("other-key", "forged"),
        ("tampered", "forged"),
    ],
)
async def test_bad_response_signature_is_that_miners_failure(mode: str, match: str) -> None:
    bob = dev_signer("bob")
    liar = LyingMiner(bob, mode)
    await liar.server.start()
    try:
        target = Target(bob.ss58, "127.0.0.1", liar.port)
        async with MinerClient(ALICE) as client:
            result = await client.query_one(target, ECHO, echo_pb2.EchoRequest(), timeout=3)
            assert result.response is None and result.error is not None
            assert result.error.status == S.UNAUTHENTICATED and match in result.error.message
            items = [
                i async for _, i in client.stream([target], STREAM, echo_pb2.EchoStreamRequest(), 3)
            ]
            assert len(items) == 1  # verified mode: none of the unverifiable chunks got out
            assert isinstance(items[0], QueryError) and match in items[0].message
    finally:
        await liar.server.stop(0)


async def test_honest_adversary_harness_passes() -> None:
    """In honest mode the lying-miner harness signs correctly, so the test above can fail."""
    bob = dev_signer("bob")
    liar = LyingMiner(bob, "honest")
    await liar.server.start()
    try:
        target = Target(bob.ss58, "127.0.0.1", liar.port)
        async with MinerClient(ALICE) as client:
            result = await client.query_one(target, ECHO, echo_pb2.EchoRequest(), timeout=3)
            assert result.ok and result.response.text == "honest"  # type: ignore[union-attr]
            items = [
                i async for _, i in client.stream([target], STREAM, echo_pb2.EchoStreamRequest(), 3)
            ]
            assert [i.index for i in items] == [0, 1]  # type: ignore[union-attr]
    finally:
        await liar.server.stop(0)

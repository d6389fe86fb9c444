"""Session streams: many unary requests to a mutual-TLS miner on one call, each one answered and
signed, with the same limits as calls; and what a hostile validator or miner gets on one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from subnetkit.core.keys import Signer
from subnetkit.miner import Limits, MinerServer
from subnetkit.miner.sessions import TrustedPeers
from subnetkit.protos.session.v1.session_pb2 import (
    SessionRequest,
    SessionRequests,
    SessionResponse,
    SessionResponses,
)
from subnetkit.subnets.echo import echo_pb2
from subnetkit.testing import eventually
from subnetkit.validator.client import MinerClient, Target
from subnetkit.wire import protocol, tls
from subnetkit.wire.session_stream import (
    MAX_REQUESTS_PER_MESSAGE,
    SESSION_PATH,
    SessionStreams,
    Unsupported,
)
from tests.miner.fakes import ScriptedMiner

S = grpc.StatusCode
ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
ECHO_PATH = "/subnets.echo.v1.Echo/Echo"


def request(text: str) -> echo_pb2.EchoRequest:
    return echo_pb2.EchoRequest(text=text)


def streams_open(server: MinerServer) -> float:
    value = server.metrics.registry.get_sample_value("subnetkit_miner_session_streams")
    assert value is not None
    return value


def served(server: MinerServer, status: str) -> float:
    value = server.metrics.registry.get_sample_value(
        "subnetkit_miner_requests_total",
        {"synapse": "Echo", "caller": "authenticated", "status": status},
    )
    return value or 0.0


class MutualTls:
    """Bob's mutual-TLS miner trusting Alice's certificate, and raw session streams to it."""

    def __init__(self, alice: Signer, bob: Signer) -> None:
        self.alice, self.bob = alice, bob
        self.cert, self.alice_cert = tls.issue(bob), tls.issue(alice)
        self.peers = TrustedPeers()
        self.peers.add(self.alice_cert.cert_pem)

    def server(self, miner: ScriptedMiner, **limits: int) -> MinerServer:
        return MinerServer(
            miner, self.bob, tls=self.cert, client_certificates=self.peers, limits=Limits(**limits)
        )

    def target(self, server: MinerServer) -> Target:
        return Target(
            self.bob.ss58, "127.0.0.1", server.port, tls_fingerprint=self.cert.fingerprint
        )

    def client(self, **kwargs: object) -> MinerClient:
        return MinerClient(self.alice, tls_certificate=self.alice_cert, session=True, **kwargs)  # type: ignore[arg-type]

    def channel(self, server: MinerServer) -> grpc.aio.Channel:
        creds = grpc.ssl_channel_credentials(
            self.cert.cert_pem, self.alice_cert.key_pem, self.alice_cert.cert_pem
        )
        options = [("grpc.ssl_target_name_override", self.cert.server_name)]
        return grpc.aio.secure_channel(f"127.0.0.1:{server.port}", creds, options)

    def open(
        self, channel: grpc.aio.Channel, receiver: str | None = None
    ) -> grpc.aio.StreamStreamCall:  # type: ignore[type-arg]
        metadata = protocol.session_open(receiver=receiver or self.bob.ss58)
        return channel.stream_stream(SESSION_PATH)(metadata=metadata, timeout=10)


class Answers:
    """Reads a raw session stream's answers one at a time (they arrive in batches)."""

    def __init__(self, call: grpc.aio.StreamStreamCall) -> None:  # type: ignore[type-arg]
        self.call = call
        self.buffer: list[SessionResponse] = []

    async def next(self) -> SessionResponse:
        while not self.buffer:
            raw = await asyncio.wait_for(self.call.read(), 5)
            assert isinstance(raw, bytes), raw
            self.buffer.extend(SessionResponses.FromString(raw).responses)
        return self.buffer.pop(0)


def one(nonce: int, text: str = "hi", method: str = ECHO_PATH, **kw: object) -> SessionRequest:
    body = request(text).SerializeToString()
    return SessionRequest(nonce=nonce, method=method, body=body, timeout_ms=5000, **kw)  # type: ignore[arg-type]


def message(*requests: SessionRequest) -> bytes:
    return SessionRequests(requests=requests).SerializeToString()


async def test_many_requests_share_one_stream_and_each_answer_is_signed(
    alice: Signer, bob: Signer
) -> None:
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    async with net.server(miner) as server, net.client() as client:
        texts = [f"m{i}" for i in range(64)]
        results = await asyncio.gather(
            *(client.query_one(net.target(server), ECHO, request(t), 5) for t in texts)
        )
        for text, result in zip(texts, results, strict=True):
            assert result.ok, result.error  # every signature verified against Bob's hotkey
            assert result.response.text == text  # type: ignore[union-attr]
            assert result.response.payload == alice.ss58.encode()  # type: ignore[union-attr]
        assert streams_open(server) == 1  # one call carried all 64
        assert served(server, "OK") == 64
        assert sorted(miner.served) == sorted(texts)
    await eventually(lambda: streams_open(server) == 0, timeout=5)


async def test_answers_come_back_as_they_finish_not_in_order(alice: Signer, bob: Signer) -> None:
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    async with net.server(miner) as server, net.client() as client:
        target = net.target(server)
        slow = asyncio.ensure_future(client.query_one(target, ECHO, request("block"), 5))
        await eventually(lambda: miner.started == ["block"], timeout=5)
        fast = await client.query_one(target, ECHO, request("fast"), 5)
        assert fast.ok and not slow.done()  # not held behind the blocked one
        miner.gate.set()
        assert (await slow).ok
        assert streams_open(server) == 1


async def test_deadline_cancel_and_refusals_answer_one_request_and_the_stream_goes_on(
    alice: Signer, bob: Signer
) -> None:
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    async with net.server(miner) as server, net.client() as client:
        target = net.target(server)
        late = await client.query_one(target, ECHO, request("sleep"), 0.3)
        assert late.error is not None and late.error.status == S.DEADLINE_EXCEEDED
        # the miner's timer for the message's own deadline (or the client's withdrawal,
        # whichever comes first) cancels the handler and frees its slot
        await asyncio.wait_for(miner.cancelled.wait(), 5)
        failed = await client.query_one(target, ECHO, request("raise"), 5)
        assert failed.error is not None and failed.error.status == S.INTERNAL
        assert "secret" not in failed.error.message
        ok = await client.query_one(target, ECHO, request("after"), 5)
        assert ok.ok, ok.error
        assert streams_open(server) == 1
        assert served(server, "DEADLINE_EXCEEDED") + served(server, "CANCELLED") == 1
        assert served(server, "INTERNAL") == 1


async def test_a_hostile_validator_on_the_stream_gets_precise_answers(
    alice: Signer, bob: Signer
) -> None:
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    limits = {"max_request_bytes": 64, "max_session_in_flight": 8}
    async with net.server(miner, **limits) as server, net.channel(server) as channel:
        call = net.open(channel)
        answers = Answers(call)
        # one message, four bad requests: each gets its own answer, in order of reading
        await call.write(
            message(
                one(1, method="/nope.Service/Nope"),
                one(2, method="/subnets.echo.v1.Echo/EchoStream"),
                one(3, text="x" * 100),
                SessionRequest(nonce=4, method=ECHO_PATH, body=b"\xff\xff"),
            )
        )
        unknown, streaming, big, junk = [await answers.next() for _ in range(4)]
        assert (unknown.nonce, unknown.code) == (1, S.UNIMPLEMENTED.value[0])
        assert ECHO_PATH in unknown.details
        assert streaming.code == S.UNIMPLEMENTED.value[0] and "call it" in streaming.details
        assert big.code == S.RESOURCE_EXHAUSTED.value[0] and "64" in big.details
        assert junk.code == S.INVALID_ARGUMENT.value[0] and "EchoRequest" in junk.details
        await call.write(message(one(5, text="block")))
        await eventually(lambda: "block" in miner.started, timeout=5)
        await call.write(message(one(5)))  # the same nonce while the first is in flight
        twice = await answers.next()
        assert twice.nonce == 5 and twice.code == S.INVALID_ARGUMENT.value[0]
        miner.gate.set()
        done = await answers.next()
        assert done.nonce == 5 and done.code == 0 and len(done.signature) == 64
        assert miner.served == ["block"]  # none of the refused ones reached the handler
        # more requests in one message than the protocol allows end the stream, and only it
        await call.write(message(*(one(10 + i) for i in range(MAX_REQUESTS_PER_MESSAGE + 1))))
        assert await asyncio.wait_for(call.code(), 5) == S.RESOURCE_EXHAUSTED
        assert f"{MAX_REQUESTS_PER_MESSAGE} per message" in await call.details()
        # bytes that are no SessionRequests end the stream, and only it
        broken = net.open(channel)
        await broken.write(b"\xff\xff\xff")
        assert await asyncio.wait_for(broken.code(), 5) == S.INVALID_ARGUMENT
        assert "SessionRequests" in await broken.details()
        again = net.open(channel)
        await again.write(message(one(6)))
        again_answers = Answers(again)
        assert (await again_answers.next()).code == 0
        # an unknown method is named back only in part: the answer does not grow with it
        await again.write(message(one(7, method="/x" * 10_000)))
        long = await again_answers.next()
        assert long.code == S.UNIMPLEMENTED.value[0] and len(long.details) < 400
        await again.done_writing()
        assert await asyncio.wait_for(again.code(), 5) == S.OK
    assert miner.served == ["block", "hi"]


async def test_a_stream_addressed_elsewhere_or_without_mutual_tls_is_refused(
    alice: Signer, bob: Signer
) -> None:
    net = MutualTls(alice, bob)
    async with net.server(ScriptedMiner()) as server, net.channel(server) as channel:
        call = net.open(channel, receiver=alice.ss58)
        assert await asyncio.wait_for(call.code(), 5) == S.UNAUTHENTICATED
        assert "addressed to" in await call.details()
    plain = MinerServer(ScriptedMiner(), bob)
    async with plain, grpc.aio.insecure_channel(f"127.0.0.1:{plain.port}") as channel:
        call = net.open(channel)
        assert await asyncio.wait_for(call.code(), 5) == S.UNAUTHENTICATED
        assert "needs mutual TLS" in await call.details()


async def test_one_validator_holds_at_most_its_share(alice: Signer, bob: Signer) -> None:
    """At most ``max_session_in_flight`` of a stream's requests run (the rest wait unread),
    and at most ``max_sessions_per_caller`` streams per hotkey are open."""
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    limits = {"max_session_in_flight": 2, "max_sessions_per_caller": 2}
    async with net.server(miner, **limits) as server, net.channel(server) as channel:
        first = net.open(channel)
        for nonce in range(1, 5):
            await first.write(message(one(nonce, text=f"block{nonce}")))
        await eventually(lambda: len(miner.started) == 2, timeout=5)
        second = net.open(channel)
        await second.write(message(one(9)))
        assert (await Answers(second).next()).code == 0  # its own stream is not held up
        # the first stream's 3rd and 4th requests are still unread
        assert [t for t in miner.started if t.startswith("block")] == ["block1", "block2"]
        third = net.open(channel)
        assert await asyncio.wait_for(third.code(), 5) == S.RESOURCE_EXHAUSTED
        assert "max_sessions_per_caller" in await third.details()
        miner.gate.set()
        answers = Answers(first)
        nonces = sorted([(await answers.next()).nonce for _ in range(4)])
        assert nonces == [1, 2, 3, 4]


async def test_a_validator_no_longer_trusted_is_cut_off_at_its_next_message(
    alice: Signer, bob: Signer
) -> None:
    net = MutualTls(alice, bob)
    async with net.server(ScriptedMiner()) as server, net.client() as client:
        target = net.target(server)
        assert (await client.query_one(target, ECHO, request("a"), 5)).ok
        net.peers.remove(alice.ss58)  # permit lost: the connection and stream are still open
        cut = await client.query_one(target, ECHO, request("b"), 5)
        assert cut.error is not None and cut.error.status == S.UNAUTHENTICATED
        assert "no longer trusts" in cut.error.message
        await eventually(lambda: streams_open(server) == 0, timeout=5)


async def test_streams_rotate_without_losing_a_request(alice: Signer, bob: Signer) -> None:
    """With rotation after every request, each is sent on a fresh stream while the old ones
    drain: nothing fails, and retired streams end."""
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    async with net.server(miner) as server, net.client() as client:
        client.transport.sessions.rotate_s = 0.0  # type: ignore[attr-defined]
        target = net.target(server)
        for batch in range(3):
            results = await asyncio.gather(
                *(client.query_one(target, ECHO, request(f"{batch}-{i}"), 5) for i in range(8))
            )
            assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        assert len(miner.served) == 24
        await eventually(lambda: streams_open(server) <= 1, timeout=5)


async def test_a_forged_certificate_chain_gets_no_session_stream(
    alice: Signer, bob: Signer, charlie: Signer
) -> None:
    """A certificate the trusted Alice signs for herself in another shape is not hers."""
    net = MutualTls(alice, bob)
    other = tls.issue(alice)  # Alice's hotkey, but not the certificate the miner trusts
    async with net.server(ScriptedMiner()) as server:
        creds = grpc.ssl_channel_credentials(net.cert.cert_pem, other.key_pem, other.cert_pem)
        options = [("grpc.ssl_target_name_override", net.cert.server_name)]
        async with grpc.aio.secure_channel(f"127.0.0.1:{server.port}", creds, options) as ch:
            call = net.open(ch)
            code = await asyncio.wait_for(call.code(), 5)
            assert code in (S.UNAVAILABLE, S.UNAUTHENTICATED)


# -- the caller's side against a miner that breaks the protocol ---------------------------------
class _HostileSession:
    """A gRPC server whose Session/Open answers with ``reply`` (or says UNIMPLEMENTED)."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply

    async def open(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        async for raw in requests:
            assert SessionRequests.FromString(raw).requests
            assert self.reply is not None
            await context.write(self.reply)

    async def __aenter__(self) -> str:
        self.server = grpc.aio.server()
        if self.reply is not None:
            handler = grpc.stream_stream_rpc_method_handler(self.open)
            self.server.add_registered_method_handlers(
                "subnetkit.session.v1.Session", {"Open": handler}
            )
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return f"127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(0)


@pytest.mark.parametrize("reply", [b"\xff\xfe garbage", None])
async def test_a_miner_breaking_the_protocol_fails_only_its_requests(
    reply: bytes | None, bob: Signer
) -> None:
    streams = SessionStreams()
    async with _HostileSession(reply) as endpoint, grpc.aio.insecure_channel(endpoint) as ch:
        if reply is None:  # an older miner: no session streams; remembered
            with pytest.raises(Unsupported):
                await streams.request(endpoint, ch, bob.ss58, ECHO_PATH, b"", 1, 5)
            assert not streams.supports(endpoint)
        else:
            with pytest.raises(grpc.aio.AioRpcError) as broken:
                await streams.request(endpoint, ch, bob.ss58, ECHO_PATH, b"", 1, 5)
            assert broken.value.code() == S.INTERNAL
            assert "not a SessionResponse" in (broken.value.details() or "")
    streams.close()


async def test_a_forged_answer_on_the_stream_is_refused(alice: Signer, bob: Signer) -> None:
    """The answer's signature is checked as a call's would be: a miner's channel answering with
    the wrong signature gets UNAUTHENTICATED, whatever the pinned channel says."""
    net = MutualTls(alice, bob)
    server = grpc.aio.server()
    forged = SessionResponse(
        body=echo_pb2.EchoResponse(text="hi").SerializeToString(), signature=b"\1" * 64
    )

    async def open_(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        async for raw in requests:
            for sent in SessionRequests.FromString(raw).requests:
                forged.nonce = sent.nonce
                await context.write(SessionResponses(responses=[forged]).SerializeToString())

    server.add_registered_method_handlers(
        "subnetkit.session.v1.Session", {"Open": grpc.stream_stream_rpc_method_handler(open_)}
    )
    port = server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials([(net.cert.key_pem, net.cert.cert_pem)])
    )
    await server.start()
    try:
        async with net.client() as client:
            target = Target(bob.ss58, "127.0.0.1", port, tls_fingerprint=net.cert.fingerprint)
            result = await client.query_one(target, ECHO, request("hi"), 5)
        assert result.error is not None and result.error.status == S.UNAUTHENTICATED
        assert "forged" in result.error.message
    finally:
        await server.stop(0)


async def test_a_miner_that_never_ends_a_retired_stream_cannot_keep_it_open(bob: Signer) -> None:
    """A retired stream is cancelled once no request waits on it: a miner ignoring the
    half-close holds no stream of the caller's for longer than its requests take."""
    active: list[int] = []

    async def open_(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        active.append(1)
        try:
            async for raw in requests:
                for sent in SessionRequests.FromString(raw).requests:
                    reply = SessionResponse(nonce=sent.nonce, body=b"ok")
                    await context.write(SessionResponses(responses=[reply]).SerializeToString())
            await asyncio.sleep(3600)  # ignores the half-close: never ends the stream itself
        finally:
            active.pop()

    server = grpc.aio.server()
    server.add_registered_method_handlers(
        "subnetkit.session.v1.Session", {"Open": grpc.stream_stream_rpc_method_handler(open_)}
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    streams = SessionStreams(rotate_s=0.0)  # a fresh stream for every request
    endpoint = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(endpoint) as channel:
            for nonce in range(1, 6):
                reply = await streams.request(endpoint, channel, bob.ss58, ECHO_PATH, b"", nonce, 5)
                assert (reply.nonce, reply.body) == (nonce, b"ok")
            await eventually(lambda: len(active) <= 1, timeout=5)
            streams.close()
            await eventually(lambda: not active, timeout=5)
    finally:
        await server.stop(0)


async def test_session_streams_can_be_turned_off(alice: Signer, bob: Signer) -> None:
    """``session_streams=False`` (``validator.session_streams = false``): a session call each."""
    net = MutualTls(alice, bob)
    async with net.server(ScriptedMiner()) as server, net.client(session_streams=False) as client:
        results = await asyncio.gather(
            *(client.query_one(net.target(server), ECHO, request(f"c{i}"), 5) for i in range(4))
        )
        assert all(r.ok for r in results)
        assert streams_open(server) == 0 and served(server, "OK") == 4


async def test_more_requests_than_the_miner_runs_at_once_wait_their_turn(
    alice: Signer, bob: Signer
) -> None:
    """A validator with far more requests in flight than the miner's per-stream cap: the miner
    reads on as slots free up, and every request is answered on the one stream."""
    net = MutualTls(alice, bob)
    limited = net.server(ScriptedMiner(), max_session_in_flight=4)
    async with limited as server, net.client(max_concurrency=256) as client:
        results = await asyncio.gather(
            *(client.query_one(net.target(server), ECHO, request(f"w{i}"), 10) for i in range(200))
        )
        assert [r.error for r in results if not r.ok] == []
        assert streams_open(server) == 1 and served(server, "OK") == 200


async def test_a_stopping_miner_ends_its_session_streams_instead_of_waiting_out_its_grace(
    alice: Signer, bob: Signer
) -> None:
    """Open session streams would hold a graceful stop for its whole grace: the miner drains
    them instead. A request in flight is still answered; the stop then takes far less than the
    grace (30 s here; the wait for it fails after 10 s)."""
    net = MutualTls(alice, bob)
    miner = ScriptedMiner()
    server = net.server(miner)
    await server.start()
    try:
        async with net.client() as client:
            target = net.target(server)
            assert (await client.query_one(target, ECHO, request("first"), 5)).ok
            assert streams_open(server) == 1  # idle, open: the client keeps it
            held = asyncio.ensure_future(client.query_one(target, ECHO, request("block"), 10))
            await eventually(lambda: "block" in miner.started, timeout=5)
            stopping = asyncio.ensure_future(server.stop(30))
            await eventually(lambda: server.stopping, timeout=5)
            miner.gate.set()
            result = await asyncio.wait_for(held, 10)
            assert result.ok, result.error  # in flight when the stop began: answered
            await asyncio.wait_for(stopping, 10)
            assert streams_open(server) == 0
    finally:
        await server.stop(0)

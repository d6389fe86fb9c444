"""One Miner behind both transports: the same answers and the same refusals, byte for byte.

Each case sends the identical request (same body, same signed metadata) once over gRPC on
127.0.0.1 and once through the in-process transport to a second server on the same Miner object
and key, then compares status and message. The in-process path is only worth having if nothing
the pipeline checks is skipped, so every refusal the pipeline has is here.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from subnetkit.core.keys import Signer, dev_signer
from subnetkit.miner import Limits, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.validator.client import MinerClient, Target
from subnetkit.wire import protocol
from subnetkit.wire.inprocess import InProcessNetwork, InProcessTransport
from subnetkit.wire.methods import resolve_method
from tests.miner.fakes import ScriptedMiner
from tests.wire.raw import ECHO, RawReply, raw_unary, signed_metadata

S = grpc.StatusCode
SERVICE = echo_pb2.DESCRIPTOR.services_by_name["Echo"]
ALICE, BOB, CHARLIE, EVE = (dev_signer(n) for n in ("alice", "bob", "charlie", "eve"))
GOOD = echo_pb2.EchoRequest(text="good").SerializeToString()
EVIL = echo_pb2.EchoRequest(text="evil").SerializeToString()


class Twins:
    """A gRPC server and an in-process server sharing one Miner and one hotkey."""

    def __init__(self, grpc_server: MinerServer, inproc: MinerServer, net: InProcessNetwork):
        self.grpc_server = grpc_server
        self.inproc = inproc
        self.transport = InProcessTransport(net)
        self.hotkey = grpc_server.hotkey

    async def send_inproc(
        self, body: bytes, md: list[tuple[str, str | bytes]], method: str = ECHO, timeout=5.0
    ) -> RawReply:
        spec = resolve_method(ECHO)  # the path travels separately; the spec is only for typing
        endpoint = f"{self.inproc.host}:{self.inproc.port}"
        call = self.transport.unary(endpoint, spec, body, md, timeout)
        call._path = method  # type: ignore[attr-defined]  # reach unknown paths as gRPC can
        try:
            out = await call
        except grpc.aio.AioRpcError as exc:
            return RawReply(exc.code(), exc.details() or "", None, {})
        return RawReply(S.OK, "", out, protocol.metadata_dict(await call.trailing_metadata()))

    async def both(
        self, body: bytes, md: list[tuple[str, str | bytes]], method: str = ECHO, timeout=5.0
    ) -> tuple[RawReply, RawReply]:
        over_grpc = await raw_unary(self.grpc_server.port, body, md, method=method, timeout=timeout)
        # The same bytes again would be a replay: a fresh nonce, re-signed, unless the case is
        # exactly about the nonce (then the caller built md with a fixed one).
        return over_grpc, await self.send_inproc(body, md, method, timeout)


@pytest.fixture
async def twins() -> AsyncIterator[Twins]:
    miner = ScriptedMiner()
    blacklist = {EVE.ss58: "eve is not registered on this subnet"}.get
    limits = Limits(max_request_bytes=1024)
    net = InProcessNetwork()
    async with (
        MinerServer(miner, BOB, blacklist=blacklist, limits=limits) as over_grpc,
        MinerServer(miner, BOB, blacklist=blacklist, limits=limits, network=net) as inproc,
    ):
        yield Twins(over_grpc, inproc, net)


def _same(a: RawReply, b: RawReply) -> None:
    """Same status; same message once numbers that depend on timing are masked."""
    assert a.code == b.code, (a, b)
    mask = re.compile(r"\d+(\.\d+)?")
    assert mask.sub("N", a.details) == mask.sub("N", b.details), (a.details, b.details)


def _fresh(signer: Signer, body: bytes, receiver: str, **kw) -> list[tuple[str, str | bytes]]:  # type: ignore[no-untyped-def]
    return signed_metadata(signer, body, receiver, **kw)


async def test_good_request_same_body_and_signed_trailer(twins: Twins) -> None:
    a = await raw_unary(twins.grpc_server.port, GOOD, _fresh(ALICE, GOOD, twins.hotkey))
    b = await twins.send_inproc(GOOD, _fresh(ALICE, GOOD, twins.hotkey))
    assert a.code == b.code == S.OK
    assert a.body == b.body and a.body is not None
    for reply in (a, b):
        assert reply.trailer["sk-miner"] == twins.hotkey
        assert len(reply.trailer["sk-response-signature-bin"]) == 64


def _bad_cases(hotkey: str) -> dict[str, tuple[bytes, list[tuple[str, str | bytes]], str]]:
    forged = dict(_fresh(ALICE, GOOD, hotkey))
    forged["sk-signature-bin"] = os.urandom(64)
    junk = b"\xff\xff\xff\xff"
    big = echo_pb2.EchoRequest(payload=b"x" * 2000).SerializeToString()
    nope = "/subnets.echo.v1.Echo/Nope"
    raises = echo_pb2.EchoRequest(text="raise").SerializeToString()
    return {
        "missing metadata": (GOOD, [], ECHO),
        "forged signature": (GOOD, list(forged.items()), ECHO),
        "another key": (GOOD, _fresh(CHARLIE, GOOD, hotkey, claim=ALICE.ss58), ECHO),
        "swapped body": (EVIL, _fresh(ALICE, GOOD, hotkey), ECHO),
        "stale": (GOOD, _fresh(ALICE, GOOD, hotkey, nonce=time.time_ns() - 11 * 10**9), ECHO),
        "future": (GOOD, _fresh(ALICE, GOOD, hotkey, nonce=time.time_ns() + 3 * 10**9), ECHO),
        "wrong receiver": (GOOD, _fresh(ALICE, GOOD, CHARLIE.ss58), ECHO),
        "blacklisted": (GOOD, _fresh(EVE, GOOD, hotkey), ECHO),
        "garbage body": (junk, _fresh(ALICE, junk, hotkey), ECHO),
        "unknown method": (GOOD, _fresh(ALICE, GOOD, hotkey, method=nope), nope),
        "handler raises": (raises, _fresh(ALICE, raises, hotkey), ECHO),
        "oversize": (big, _fresh(ALICE, big, hotkey), ECHO),
    }


async def test_every_refusal_is_identical(twins: Twins) -> None:
    for name, (body, md, method) in _bad_cases(twins.hotkey).items():
        over_grpc, inproc = await twins.both(body, md, method)
        assert over_grpc.code != S.OK, name
        if name == "oversize":  # gRPC core refuses it before our code: same status, its words
            assert over_grpc.code == inproc.code == S.RESOURCE_EXHAUSTED
            assert "limit of 1024" in inproc.details
            continue
        _same(over_grpc, inproc)


async def test_replay_is_refused_across_each_transport(twins: Twins) -> None:
    for send in (
        lambda md: raw_unary(twins.grpc_server.port, GOOD, md),
        lambda md: twins.send_inproc(GOOD, md),
    ):
        md = _fresh(ALICE, GOOD, twins.hotkey)
        first, again = await send(md), await send(md)
        assert first.code == S.OK
        assert again.code == S.UNAUTHENTICATED and "replayed nonce" in again.details


async def test_deadline_cancels_the_handler_on_both(twins: Twins) -> None:
    body = echo_pb2.EchoRequest(text="sleep").SerializeToString()
    over_grpc = await raw_unary(
        twins.grpc_server.port, body, _fresh(ALICE, body, twins.hotkey), timeout=0.2
    )
    inproc = await twins.send_inproc(body, _fresh(ALICE, body, twins.hotkey), timeout=0.2)
    _same(over_grpc, inproc)
    assert inproc.code == S.DEADLINE_EXCEEDED
    labels = {"synapse": "Echo", "caller": "authenticated", "status": "DEADLINE_EXCEEDED"}
    sample = twins.inproc.metrics.registry.get_sample_value
    assert sample("subnetkit_miner_requests_total", labels) == 1


async def test_per_caller_limit_applies_in_process() -> None:
    miner = ScriptedMiner()
    net = InProcessNetwork()
    limits = Limits(max_per_caller=2)
    async with MinerServer(miner, BOB, limits=limits, network=net) as srv:
        target = Target(srv.hotkey, srv.host, srv.port)
        request = echo_pb2.EchoRequest(text="block")
        async with MinerClient(ALICE, transport=InProcessTransport(net)) as client:
            results = asyncio.ensure_future(
                client.query([target] * 3, SERVICE.methods_by_name["Echo"], request, timeout=5)
            )
            while len(miner.started) < 2:  # noqa: ASYNC110 - the miner counts its own starts
                await asyncio.sleep(0.001)
            miner.gate.set()
            codes = sorted(r.error.status.name if r.error else "OK" for r in await results)
    assert codes == ["OK", "OK", "RESOURCE_EXHAUSTED"]


async def _collect(client: MinerClient, target: Target, stream: object, text: str) -> list:  # type: ignore[type-arg]
    request = echo_pb2.EchoStreamRequest(text=text, count=3)
    return [c async for _, c in client.stream([target], stream, request, 5)]  # type: ignore[arg-type]


def _kinds(items: list) -> list[str]:  # type: ignore[type-arg]
    return [type(c).__name__ for c in items]


async def test_client_results_match_unary_and_stream() -> None:
    net = InProcessNetwork()
    miner = ScriptedMiner()
    echo, stream = SERVICE.methods_by_name["Echo"], SERVICE.methods_by_name["EchoStream"]
    async with (
        MinerServer(miner, BOB) as over_grpc,
        MinerServer(miner, BOB, network=net) as inproc,
        MinerClient(ALICE) as grpc_client,
        MinerClient(ALICE, transport=InProcessTransport(net)) as inproc_client,
    ):
        pairs = [
            (grpc_client, Target(BOB.ss58, "127.0.0.1", over_grpc.port)),
            (inproc_client, Target(BOB.ss58, inproc.host, inproc.port)),
        ]
        seen = []
        for client, target in pairs:
            ok = await client.query_one(target, echo, echo_pb2.EchoRequest(text="hi"), 5)
            bad = await client.query_one(target, echo, echo_pb2.EchoRequest(text="raise"), 5)
            chunks = await _collect(client, target, stream, "s")
            broken = await _collect(client, target, stream, "raise")
            assert bad.error is not None
            seen.append((ok.response, bad.error.status, bad.error.message, chunks, _kinds(broken)))
        assert seen[0] == seen[1]
        assert seen[0][0].text == "hi" and len(seen[0][3]) == 3
        assert seen[0][4] == ["QueryError"]  # verified mode: a broken stream yields its error only


async def test_forged_response_is_caught_in_process() -> None:
    """The client verifies in-process responses too: a miner answering under another key fails."""
    net = InProcessNetwork()
    async with MinerServer(ScriptedMiner(), BOB, network=net) as srv:
        claimed = Target(CHARLIE.ss58, srv.host, srv.port)  # the endpoint is Bob's, not Charlie's
        async with MinerClient(ALICE, transport=InProcessTransport(net)) as client:
            result = await client.query_one(
                claimed, SERVICE.methods_by_name["Echo"], echo_pb2.EchoRequest(text="x"), 5
            )
    assert result.error is not None and result.error.status == S.UNAUTHENTICATED


async def test_trusted_mode_skips_signatures_but_not_the_pipeline() -> None:
    net = InProcessNetwork()
    blacklist = {EVE.ss58: "no"}.get
    async with MinerServer(ScriptedMiner(), BOB, network=net, blacklist=blacklist) as srv:
        target = Target(srv.hotkey, srv.host, srv.port)
        echo = SERVICE.methods_by_name["Echo"]
        trusted = InProcessTransport(net, trusted=True)
        async with MinerClient(ALICE, transport=trusted) as client:
            assert client.trusted and not client.verify_responses
            ok = await client.query_one(target, echo, echo_pb2.EchoRequest(text="t"), 5)
            assert ok.ok and ok.response.text == "t"  # type: ignore[union-attr]
        async with MinerClient(EVE, transport=trusted) as client:
            refused = await client.query_one(target, echo, echo_pb2.EchoRequest(text="t"), 5)
        assert refused.error is not None and refused.error.status == S.PERMISSION_DENIED
        # The same unsigned request from an untrusted transport is a bad signature.
        md = list(protocol.unsigned_request(ALICE, receiver=srv.hotkey, nonce=time.time_ns()))
        untrusted = InProcessTransport(net)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await untrusted.unary(f"{srv.host}:{srv.port}", resolve_method(echo), GOOD, md, 5)
        assert info.value.code() == S.UNAUTHENTICATED and "bad signature" in str(
            info.value.details()
        )


async def test_stopped_or_unknown_endpoint_is_unavailable() -> None:
    net = InProcessNetwork()
    srv = MinerServer(ScriptedMiner(), BOB, network=net)
    await srv.start()
    target = Target(srv.hotkey, srv.host, srv.port)
    await srv.stop(0)
    async with MinerClient(ALICE, transport=InProcessTransport(net)) as client:
        result = await client.query_one(
            target, SERVICE.methods_by_name["Echo"], echo_pb2.EchoRequest(text="x"), 5
        )
    assert result.error is not None and result.error.status == S.UNAVAILABLE
    assert len(net) == 0

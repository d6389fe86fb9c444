"""The replay window outlives a slow blacklist hook, and replays are refused before the hooks."""

from __future__ import annotations

import asyncio

import grpc

from subnetkit.core.keys import Signer
from subnetkit.miner import Limits, MinerServer
from subnetkit.subnets.echo import echo_pb2
from subnetkit.testing import eventually
from tests.miner.fakes import ScriptedMiner
from tests.wire.raw import raw_unary, signed_metadata

S = grpc.StatusCode
SECOND = 1_000_000_000


class Clock:
    """The miner's wall clock, moved by the test."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def test_entry_outlives_a_slow_blacklist_hook(alice: Signer, bob: Signer) -> None:
    start = 1_700_000_000 * SECOND
    clock = Clock(start)
    limits = Limits(max_age_s=10, max_skew_s=2)
    hook_entered, hook_release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def slow_blacklist(caller: str) -> None:
        calls.append(caller)
        if len(calls) == 1:
            hook_entered.set()
            await hook_release.wait()  # e.g. a database that stalls
        return None

    nonce = start + 2 * SECOND  # as far ahead as the skew allows: fresh for 12 s from now
    body = echo_pb2.EchoRequest(text="once").SerializeToString()
    md = signed_metadata(alice, body, bob.ss58, nonce=nonce)
    async with MinerServer(
        ScriptedMiner(), bob, limits=limits, blacklist=slow_blacklist, clock=clock
    ) as server:
        first = asyncio.ensure_future(raw_unary(server.port, body, md))
        await hook_entered.wait()
        clock.now += 11 * SECOND  # the hook takes 11 s of the 12 s window
        hook_release.set()
        assert (await first).code == S.OK
        # Still inside the window measured from the freshness check: the copy is a replay.
        clock.now = start + 12 * SECOND - 1
        replay = await raw_unary(server.port, body, md)
        assert replay.code == S.UNAUTHENTICATED and "replayed nonce" in replay.details
        assert len(calls) == 1  # refused before the hook and the signature check
        clock.now = start + 12 * SECOND + 1  # past it the freshness check refuses it
        stale = await raw_unary(server.port, body, md)
        assert stale.code == S.UNAUTHENTICATED and "stale request" in stale.details
        fresh = echo_pb2.EchoRequest(text="new").SerializeToString()
        ok = await raw_unary(
            server.port, fresh, signed_metadata(alice, fresh, bob.ss58, nonce=clock.now)
        )
        assert ok.code == S.OK


async def test_two_copies_in_flight_serve_once(alice: Signer, bob: Signer) -> None:
    release = asyncio.Event()
    entered = 0

    async def slow(_: str) -> None:
        nonlocal entered
        entered += 1
        await release.wait()

    body = echo_pb2.EchoRequest(text="dup").SerializeToString()
    md = signed_metadata(alice, body, bob.ss58)
    miner = ScriptedMiner()
    async with MinerServer(miner, bob, blacklist=slow) as server:
        copies = [asyncio.ensure_future(raw_unary(server.port, body, md)) for _ in range(2)]
        await eventually(lambda: entered == 2)  # both passed the lookup: neither was added yet
        release.set()
        codes = sorted(r.code.value[0] for r in await asyncio.gather(*copies))
        assert codes == [S.OK.value[0], S.UNAUTHENTICATED.value[0]]
        assert miner.served == ["dup"]

"""Reads get a bounded share and blocks priority (chain/read_share.py), and head reads never
wait for a block being built: they read the last committed block while one is.

Blocks and reads are held in known states with real hooks (a block held after applying its
extrinsics, reader threads held inside a query), never with timings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from subnetkit.chain.read_share import PER_CALLER
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.protos.chain.v1 import chain_pb2_grpc as pb_grpc
from subnetkit.testing import TAO, ChainHarness, running_chain

S = grpc.StatusCode


@pytest.fixture
async def chain() -> AsyncIterator[ChainHarness]:
    async with running_chain(automine=False) as harness:
        yield harness


async def _included(chain: ChainHarness, dest: str, amount: int) -> int:
    """A transfer of ``amount`` to ``dest`` in a block of its own; that block's number."""
    ext = await chain.client.sign(
        chain.alice, pb.Call(transfer=pb.Transfer(dest=dest, amount=amount))
    )
    (result,) = await chain.client.submit_batch([ext], wait=False)
    assert not result.error_code, result
    block = await chain.service.produce_block()
    assert len(block.extrinsic_hashes) == 1
    return int(block.header.number)


def _own_connection(address: str) -> grpc.aio.Channel:
    """A channel on a TCP connection of its own (channels in one process share one by default,
    and the chain's share is per connection): a second, separate client."""
    return grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])


async def _get(stub: pb_grpc.ChainStub, request: pb.GetAccountRequest) -> pb.GetAccountResponse:
    response: pb.GetAccountResponse = await stub.GetAccount(request, timeout=30)
    return response


def _busy(result: object) -> bool:
    return (
        isinstance(result, grpc.aio.AioRpcError)
        and result.code() == S.RESOURCE_EXHAUSTED
        and "busy" in (result.details() or "")
    )


async def test_head_reads_answer_from_the_last_committed_block_while_one_is_built(
    chain: ChainHarness,
) -> None:
    dest = Signer.generate().ss58
    first = await _included(chain, dest, 2 * TAO)
    node = chain.service.node
    applied, release = threading.Event(), threading.Event()

    def hold(number: int) -> None:
        applied.set()
        assert release.wait(30)

    node.on_block_applied = hold
    ext = await chain.client.sign(chain.alice, pb.Call(transfer=pb.Transfer(dest=dest, amount=TAO)))
    await chain.client.submit_batch([ext], wait=False)
    building = asyncio.create_task(chain.service.produce_block())
    try:
        assert await asyncio.to_thread(applied.wait, 30)  # the live state now has block first+1
        # head reads answer now, from block `first` (committed), not half of the next one
        assert await chain.client.balance(dest) == 2 * TAO
        info = await chain.client.info()
        assert info.head.number == first
        assert (await chain.client.block(first)).header.number == first
        assert await chain.client.list_subnets() == []
        assert not building.done()  # all of it while the block is still being built
    finally:
        release.set()
    async with asyncio.timeout(30):
        block = await building
    assert block.header.number == first + 1
    assert await chain.client.balance(dest) == 3 * TAO  # and the next read sees the new block


async def test_a_flooding_connection_is_refused_beyond_its_share_while_others_proceed(
    chain: ChainHarness,
) -> None:
    dest = Signer.generate().ss58
    past = await _included(chain, dest, TAO)
    await _included(chain, dest, TAO)
    node = chain.service.node
    # both reader threads held inside a query: past reads admitted from now on wait for them
    entered = [threading.Event(), threading.Event()]
    release = threading.Event()

    def held(i: int) -> Any:
        def read(state: Any, block: int, block_hash: bytes) -> int:
            entered[i].set()
            assert release.wait(30)
            return block

        return read

    holders = [asyncio.create_task(node.query(past, held(i), caller=f"holder{i}")) for i in (0, 1)]
    async with (
        _own_connection(chain.service.address) as a,
        _own_connection(chain.service.address) as b,
    ):
        try:
            for event in entered:
                assert await asyncio.to_thread(event.wait, 30)
            flooder, other = pb_grpc.ChainStub(a), pb_grpc.ChainStub(b)
            request = pb.GetAccountRequest(address=dest, at_block=past)
            flood = [asyncio.create_task(_get(flooder, request)) for _ in range(3 * PER_CALLER)]
            # exactly the reads beyond the connection's share are refused, at once
            refused: set[asyncio.Task[Any]] = set()
            while len(refused) < 2 * PER_CALLER:
                done, _ = await asyncio.wait(
                    set(flood) - refused, timeout=30, return_when=asyncio.FIRST_COMPLETED
                )
                assert done, "the reads beyond the share were not refused"
                refused |= done
            assert all(_busy(t.exception()) for t in refused)
            first = next(iter(refused)).exception()
            assert isinstance(first, grpc.aio.AioRpcError) and "in flight" in (
                first.details() or ""
            )
            # another connection's reads are admitted: its head read answers now, its past read
            # waits its turn (the reader threads are held), and blocks go on
            mine = asyncio.create_task(_get(other, request))
            head = await other.GetAccount(pb.GetAccountRequest(address=dest), timeout=30)
            assert head.balance == 2 * TAO
            produced = await _included(chain, dest, TAO)
            assert produced == past + 2 and not mine.done()
        finally:
            release.set()
        async with asyncio.timeout(30):
            assert (await mine).balance == TAO
            admitted = [t for t in flood if t not in refused]
            assert len(admitted) == PER_CALLER
            assert all(r.balance == TAO for r in await asyncio.gather(*admitted))
            assert await asyncio.gather(*holders) == [past, past]
    assert node.reads.in_flight == 0


async def test_the_chain_wide_cap_refuses_every_caller_once_reached(chain: ChainHarness) -> None:
    past = await _included(chain, chain.bob.ss58, TAO)
    await chain.service.produce_block()
    node = chain.service.node
    node.reads.max_in_flight = 2
    release, entered = threading.Event(), threading.Semaphore(0)

    def held(state: Any, block: int, block_hash: bytes) -> int:
        entered.release()
        assert release.wait(30)
        return block

    holders = [asyncio.create_task(node.query(past, held, caller=f"h{i}")) for i in (0, 1)]
    try:
        for _ in holders:
            assert await asyncio.to_thread(entered.acquire, True, 30)
        request = pb.GetAccountRequest(address=chain.bob.ss58, at_block=past)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await chain.client.stub.GetAccount(request, timeout=10)
        assert info.value.code() == S.RESOURCE_EXHAUSTED
        assert "the most this chain serves at once" in (info.value.details() or "")
    finally:
        release.set()
    async with asyncio.timeout(30):
        assert await asyncio.gather(*holders) == [past, past]
    assert await chain.client.balance(chain.bob.ss58, at_block=past) > 0

"""Submission as clients see it: the receipt once included, or the hash at once if asked; and
the gRPC status of every refusal at the pool, pinned at the servicer's single choke point."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from subnetkit.chain import extrinsic
from subnetkit.chain.mempool import MAX_FUTURE_NONCES, PoolLimits
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, ChainHarness, running_chain

S = grpc.StatusCode


@pytest.fixture
async def manual(tmp_path: Path) -> AsyncIterator[ChainHarness]:
    """Manual blocks WITHOUT automine: an extrinsic stays pending until the test produces."""
    async with running_chain(tmp_path / "chain", automine=False) as harness:
        yield harness


def _transfer(dest: str, amount: int = 1) -> pb.Call:
    return pb.Call(transfer=pb.Transfer(dest=dest, amount=amount))


async def test_submit_without_waiting_returns_the_hash_and_the_receipt_follows(
    manual: ChainHarness,
) -> None:
    c = manual.client
    dest = Signer.generate().ss58
    head = manual.service.head.number
    async with asyncio.timeout(5):  # returns at once: no block is produced here
        pending = await c.transfer(manual.alice, dest, TAO, wait=False)
    assert len(pending.extrinsic_hash) == 32 and pending.block_number == 0
    assert manual.service.head.number == head
    assert await c.receipt(pending.extrinsic_hash) is None  # not included yet

    waiter = asyncio.create_task(c.receipt(pending.extrinsic_hash, wait=True, timeout=10))
    done, _ = await asyncio.wait({waiter}, timeout=0.3)
    assert not done, "GetReceipt(wait=True) returned before any block included the extrinsic"

    block = await manual.service.produce_block()
    async with asyncio.timeout(10):
        waited = await waiter
    assert waited is not None and waited.success
    assert waited.block_number == block.header.number == head + 1
    assert bytes(waited.extrinsic_hash) == bytes(pending.extrinsic_hash)
    looked_up = await c.receipt(pending.extrinsic_hash)
    assert looked_up == waited
    assert await c.balance(dest) == TAO


async def test_submit_waiting_returns_the_receipt_once_included(manual: ChainHarness) -> None:
    c = manual.client
    task = asyncio.create_task(c.transfer(manual.alice, Signer.generate().ss58, TAO))
    done, _ = await asyncio.wait({task}, timeout=0.3)
    assert not done, "a waiting submission returned before its block"
    block = await manual.service.produce_block()
    async with asyncio.timeout(10):
        receipt = await task
    assert receipt.success and receipt.block_number == block.header.number
    assert list(block.extrinsic_hashes) == [receipt.extrinsic_hash]


async def _refusal(chain: ChainHarness, ext: pb.Extrinsic) -> grpc.aio.AioRpcError:
    request = pb.SubmitExtrinsicRequest(extrinsic=ext, wait_for_inclusion=False)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chain.client.stub.SubmitExtrinsic(request, timeout=10)
    return info.value


def _chain_code(exc: grpc.aio.AioRpcError) -> str:
    found = [v for k, v in exc.trailing_metadata() or () if k == "x-chain-error"]
    assert len(found) == 1, exc.trailing_metadata()
    code = str(found[0])
    assert (exc.details() or "").startswith(f"{code}: "), exc.details()
    return code


async def test_each_pool_refusal_has_its_grpc_status(manual: ChainHarness) -> None:
    c = manual.client
    alice, genesis = manual.alice, await c.genesis_hash()
    bob = manual.bob.ss58
    nonce = await c.nonce(alice.ss58)
    good = extrinsic.build(alice, nonce, _transfer(bob), genesis)

    def variant(**fields: object) -> pb.Extrinsic:
        ext = pb.Extrinsic()
        ext.CopyFrom(good)
        for name, value in fields.items():
            setattr(ext, name, value)
        return ext

    forged = variant(call=_transfer(bob, 10**15).SerializeToString())
    cases: list[tuple[str, pb.Extrinsic, grpc.StatusCode]] = [
        ("bad_signature", forged, S.UNAUTHENTICATED),
        (
            "bad_signature",
            extrinsic.build(alice, nonce, _transfer(bob), b"\1" * 32),
            S.UNAUTHENTICATED,
        ),
        ("bad_extrinsic", variant(crypto="ecdsa"), S.INVALID_ARGUMENT),
        ("bad_address", variant(signer="not-an-address"), S.INVALID_ARGUMENT),
        ("bad_call", extrinsic.build(alice, nonce, pb.Call(), genesis), S.INVALID_ARGUMENT),
        (
            "future_nonce",
            extrinsic.build(alice, nonce + MAX_FUTURE_NONCES, _transfer(bob), genesis),
            S.FAILED_PRECONDITION,
        ),
    ]
    for code, ext, status in cases:
        exc = await _refusal(manual, ext)
        assert (exc.code(), _chain_code(exc)) == (status, code), exc.details()

    # Pending in the pool: the same extrinsic again, or another one with its nonce.
    accepted = await c.stub.SubmitExtrinsic(pb.SubmitExtrinsicRequest(extrinsic=good), timeout=10)
    assert accepted.extrinsic_hash
    for ext in (good, extrinsic.build(alice, nonce, _transfer(bob, 2), genesis)):
        exc = await _refusal(manual, ext)
        assert (exc.code(), _chain_code(exc)) == (S.ALREADY_EXISTS, "duplicate_extrinsic")

    # Included: its nonce is used now.
    await manual.service.produce_block()
    exc = await _refusal(manual, good)
    assert (exc.code(), _chain_code(exc)) == (S.FAILED_PRECONDITION, "stale_nonce")

    # A full pool refuses with RESOURCE_EXHAUSTED (capacity lowered so the test stays small).
    manual.service.node.pool.limits = PoolLimits(max_count=1)
    await c.stub.SubmitExtrinsic(
        pb.SubmitExtrinsicRequest(
            extrinsic=extrinsic.build(alice, nonce + 1, _transfer(bob), genesis)
        )
    )
    exc = await _refusal(manual, extrinsic.build(alice, nonce + 2, _transfer(bob), genesis))
    assert (exc.code(), _chain_code(exc)) == (S.RESOURCE_EXHAUSTED, "pool_full")


async def test_a_failed_call_is_a_receipt_not_a_grpc_error(manual: ChainHarness) -> None:
    """Insufficient balance is decided when the block applies the call: the RPC succeeds (OK) and
    the receipt carries the typed failure; the nonce is used and the fee paid, as on subtensor."""
    c = manual.client
    poor = Signer.generate()
    in_pool = asyncio.Event()
    manual.service.node.on_submitted = in_pool.set  # the hook automine uses
    funding = asyncio.create_task(c.transfer(manual.alice, poor.ss58, TAO // 100))
    async with asyncio.timeout(10):
        await in_pool.wait()
    await manual.service.produce_block()
    async with asyncio.timeout(10):
        assert (await funding).success
    in_pool.clear()
    ext = extrinsic.build(poor, 0, _transfer(manual.bob.ss58, TAO), await c.genesis_hash())
    call = c.stub.SubmitExtrinsic(pb.SubmitExtrinsicRequest(extrinsic=ext, wait_for_inclusion=True))
    async with asyncio.timeout(10):
        await in_pool.wait()
    await manual.service.produce_block()
    async with asyncio.timeout(10):
        response = await call
    assert await call.code() == S.OK
    receipt = response.receipt
    assert not receipt.success and receipt.error_code == "insufficient_balance"
    assert receipt.error_message
    assert receipt.fee > 0 and await c.balance(poor.ss58) == TAO // 100 - receipt.fee


async def test_query_refusals_have_their_grpc_status(manual: ChainHarness) -> None:
    stub = manual.client.stub
    head = manual.service.head.number
    calls = [
        (stub.GetSubnet(pb.GetSubnetRequest(netuid=77)), S.NOT_FOUND, "subnet_not_found"),
        (stub.GetBlock(pb.GetBlockRequest(number=head + 9)), S.NOT_FOUND, "block_not_found"),
        (
            stub.ProduceBlocks(pb.ProduceBlocksRequest(count=10_001)),
            S.INVALID_ARGUMENT,
            "bad_argument",
        ),
    ]
    for call, status, code in calls:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert (info.value.code(), _chain_code(info.value)) == (status, code)

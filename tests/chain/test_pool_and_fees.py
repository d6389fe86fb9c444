"""The pool cannot be jammed for free, and every extrinsic pays for its bytes and its weight.

Each test makes the real requests against a real chain (127.0.0.1:0, SQLite in a temp dir) and
ends by showing the chain still serves: a legitimate extrinsic is included after the attack.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from subnetkit.chain import extrinsic, fees
from subnetkit.chain.mempool import PoolLimits
from subnetkit.core.errors import ChainError
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, ChainHarness, running_chain

S = grpc.StatusCode
LIMITS = PoolLimits(max_count=64, max_bytes=64 * 1024, max_per_account=8, future_ttl_blocks=3)


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[ChainHarness]:
    """Manual blocks without automine and a small pool, so limits are reached in a few calls."""
    async with running_chain(tmp_path / "chain", automine=False, pool_limits=LIMITS) as harness:
        yield harness


def _transfer(dest: str, amount: int = 1) -> pb.Call:
    return pb.Call(transfer=pb.Transfer(dest=dest, amount=amount))


async def _submit(chain: ChainHarness, exts: list[pb.Extrinsic]) -> list[pb.SubmitResult]:
    return await chain.client.submit_batch(exts, wait=False)


async def _still_serving(chain: ChainHarness) -> None:
    """A legitimate transfer is admitted and included, and the head moved."""
    head = chain.service.head.number
    dest = Signer.generate().ss58
    arrived = _submissions(chain)
    task = asyncio.create_task(chain.client.transfer(chain.charlie, dest, TAO))
    async with asyncio.timeout(10):
        await arrived.wait()
    await chain.service.produce_block()
    async with asyncio.timeout(10):
        assert (await task).success
    assert chain.service.head.number == head + 1
    assert await chain.client.balance(dest) == TAO


def _pool(chain: ChainHarness) -> list[list[object]]:
    return chain.service.node.pool.snapshot()  # type: ignore[return-value]


async def test_unfunded_keys_cannot_fill_the_pool(small: ChainHarness) -> None:
    genesis = await small.client.genesis_hash()
    dest = small.bob.ss58
    for _ in range(8):  # fresh unfunded keys, each a burst of nonces with no gap
        key = Signer.generate()
        batch = [extrinsic.build(key, n, _transfer(dest), genesis) for n in range(8)]
        results = await _submit(small, batch)
        assert {r.error_code for r in results} == {"cannot_pay"}, results[0]
    assert len(small.service.node.pool) == 0
    await _still_serving(small)


async def test_a_signer_may_only_have_what_it_can_pay_for_pending(small: ChainHarness) -> None:
    c = small.client
    genesis = await c.genesis_hash()
    payer = Signer.generate()
    calls = [_transfer(small.bob.ss58, 1) for _ in range(3)]
    exts = [extrinsic.build(payer, n, call, genesis) for n, call in enumerate(calls)]
    due = [fees.fee(len(e.SerializeToString()), fees.weight(calls[0])) for e in exts]
    arrived = _submissions(small)
    funding = asyncio.create_task(c.transfer(small.alice, payer.ss58, due[0] + due[1] + 2))
    async with asyncio.timeout(10):
        await arrived.wait()
    await small.service.produce_block()
    await funding
    results = await _submit(small, exts)
    assert [r.error_code for r in results] == ["", "", "cannot_pay"]
    assert "owe" in results[2].error_message
    await small.service.produce_block()
    # both included: each paid its fee to the rao, and the 2 rao transferred went to Bob
    assert await c.balance(payer.ss58) == 0
    await _still_serving(small)


async def test_pool_is_bounded_per_account_and_by_bytes(small: ChainHarness) -> None:
    c = small.client
    genesis = await c.genesis_hash()
    nonce = await c.nonce(small.alice.ss58)
    mine = [
        extrinsic.build(small.alice, nonce + i, _transfer(small.bob.ss58), genesis)
        for i in range(LIMITS.max_per_account + 1)
    ]
    results = await _submit(small, mine)
    assert [r.error_code for r in results[:-1]] == [""] * LIMITS.max_per_account
    assert results[-1].error_code == "account_pool_full"
    # Bytes: large (but allowed) extrinsics from Bob fill the pool's 64 KiB long before 64 count.
    bob_nonce = await c.nonce(small.bob.ss58)
    padded = [_padded(small.bob, bob_nonce + i, genesis, 15_000) for i in range(6)]
    results = await _submit(small, padded)
    codes = [r.error_code for r in results]
    assert "pool_full" in codes and codes[0] == "", codes
    pool = small.service.node.pool
    assert pool.bytes <= LIMITS.max_bytes
    await small.service.produce_block()  # drains what fits
    await _still_serving(small)


def _padded(signer: Signer, nonce: int, genesis: bytes, size: int) -> pb.Extrinsic:
    """A valid, signed extrinsic of about ``size`` bytes (a set_weights on a subnet that does
    not exist: admitted and paid for, then fails as a call)."""
    uids = [2**28 + i for i in range(size // 6 + 1)]  # 5-byte varints, plus 1 per weight
    call = pb.Call(set_weights=pb.SetWeights(netuid=999, uids=uids, weights=[1] * len(uids)))
    return extrinsic.build(signer, nonce, call, genesis)


async def test_gapped_extrinsics_are_bounded_and_expire(small: ChainHarness) -> None:
    c = small.client
    genesis = await c.genesis_hash()
    nonce = await c.nonce(small.bob.ss58)
    gapped = [
        extrinsic.build(small.bob, nonce + 1 + i, _transfer(small.charlie.ss58), genesis)
        for i in range(3)
    ]
    request = pb.SubmitExtrinsicRequest(extrinsic=gapped[0], wait_for_inclusion=True)

    async def submit_and_wait() -> pb.SubmitExtrinsicResponse:
        return await c.stub.SubmitExtrinsic(request, timeout=20)

    arrived = _submissions(small)
    waiter = asyncio.create_task(submit_and_wait())
    async with asyncio.timeout(10):
        await arrived.wait()
    results = await _submit(small, gapped[1:])
    assert all(not r.error_code for r in results)
    pool = small.service.node.pool
    assert pool.future_count == 3 and pool.future_bytes > 0
    assert _pool(small) == []  # nothing ready: the gap holds them all
    for _ in range(LIMITS.future_ttl_blocks + 1):
        await small.service.produce_block()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async with asyncio.timeout(10):
            await waiter
    assert info.value.code() == S.DEADLINE_EXCEEDED
    assert "future_expired" in (info.value.details() or "")
    assert len(pool) == 0 and pool.future_count == 0 and pool.bytes == 0
    await _still_serving(small)


async def test_future_part_evicts_its_oldest_entry_when_full(tmp_path: Path) -> None:
    limits = PoolLimits(max_count=20, max_per_account=20)  # future part: 2 entries
    async with running_chain(tmp_path / "c", automine=False, pool_limits=limits) as chain:
        genesis = await chain.client.genesis_hash()
        nonce = await chain.client.nonce(chain.bob.ss58)
        gapped = [
            extrinsic.build(chain.bob, nonce + 2 + i, _transfer(chain.alice.ss58), genesis)
            for i in range(3)
        ]
        results = await _submit(chain, gapped)
        assert all(not r.error_code for r in results)
        pool = chain.service.node.pool
        assert pool.future_count == 2 and pool.get(results[0].extrinsic_hash) is None
        await _still_serving(chain)


async def test_fee_is_base_plus_length_plus_weight_charged_at_inclusion(
    chain: ChainHarness,
) -> None:
    c = chain.client
    await chain.produce(1)
    info = await c.info()
    before = await c.balance(chain.alice.ss58)
    call = _transfer(chain.bob.ss58, 5 * TAO)
    ext = await c.sign(chain.alice, call)
    expected = (
        fees.BASE_FEE
        + fees.LENGTH_FEE_PER_BYTE * len(ext.SerializeToString())
        + fees.weight(call) // fees.WEIGHT_PER_RAO
    )
    (result,) = await c.submit_batch([ext], wait=True)
    receipt = result.receipt
    assert receipt.success and receipt.fee == expected
    assert await c.balance(chain.alice.ss58) == before - 5 * TAO - expected
    fee_events = [e for e in receipt.events if e.name == "TransactionFeePaid"]
    assert len(fee_events) == 1 and f'"fee":{expected}' in fee_events[0].data_json
    # burned: the issuance fell by exactly the fee (no subnets, so no emission this block)
    assert (await c.info()).total_issuance == info.total_issuance - expected


async def test_oversized_extrinsic_is_refused_before_its_signature(chain: ChainHarness) -> None:
    genesis = await chain.client.genesis_hash()
    huge = _padded(chain.alice, 0, genesis, fees.MAX_EXTRINSIC_BYTES + 1024)
    request = pb.SubmitExtrinsicRequest(extrinsic=huge)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chain.client.stub.SubmitExtrinsic(request, timeout=10)
    assert info.value.code() == S.INVALID_ARGUMENT
    assert "extrinsic_too_large" in (info.value.details() or "")
    receipt = await chain.client.transfer(chain.alice, chain.bob.ss58, TAO)
    assert receipt.success


async def test_free_calls_only_for_registered_hotkeys(chain: ChainHarness) -> None:
    c = chain.client
    netuid, _ = await chain.subnet()
    (hotkey,) = await chain.register(netuid, 1)
    assert await c.balance(hotkey.ss58) == 0
    await c.serve_axon(hotkey, netuid, "127.0.0.1", 9000)  # free: registered here
    assert await c.balance(hotkey.ss58) == 0
    stranger = Signer.generate()
    with pytest.raises(ChainError) as info:
        await c.serve_axon(stranger, netuid, "127.0.0.1", 9001)
    assert info.value.code == "not_registered" and "fee" in info.value.message
    assert (await c.transfer(chain.alice, chain.bob.ss58, 1)).success


def _submissions(chain: ChainHarness) -> asyncio.Event:
    """Set when the next submission enters the pool (the hook automine uses)."""
    arrived = asyncio.Event()
    chain.service.node.on_submitted = arrived.set
    return arrived

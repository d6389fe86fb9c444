"""A block's work is capped by weight and by time, not by count alone: a burst becomes several
blocks, none over the cap, and every extrinsic of the burst is still included, in nonce order."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from subnetkit.chain import extrinsic, fees
from subnetkit.chain.builder import BlockLimits
from subnetkit.chain.gc_pause import LARGE_POOL, GcPause
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import running_chain


async def _burst(chain: object, signers: list[Signer], per: int) -> tuple[list[pb.Extrinsic], str]:
    client = chain.client  # type: ignore[attr-defined]
    genesis = await client.genesis_hash()
    dest = Signer.generate().ss58
    call = pb.Call(transfer=pb.Transfer(dest=dest, amount=1))
    exts = [extrinsic.build(s, n, call, genesis) for n in range(per) for s in signers]
    results = await client.submit_batch(exts, wait=False)
    assert not [r for r in results if r.error_code]
    return exts, dest


async def test_a_burst_is_split_by_weight(tmp_path: Path) -> None:
    async with running_chain(tmp_path / "chain", automine=False) as chain:
        signers = [chain.alice, chain.bob, chain.charlie]
        call_weight = fees.weight(pb.Call(transfer=pb.Transfer(dest=chain.bob.ss58, amount=1)))
        chain.service.node.limits = BlockLimits(max_weight=10 * call_weight, max_apply_seconds=60)
        exts, dest = await _burst(chain, signers, per=12)
        sizes = []
        while len(chain.service.node.pool):
            block = await chain.service.produce_block()
            sizes.append(len(block.extrinsic_hashes))
        assert sum(sizes) == len(exts) == 36
        assert max(sizes) == 10 and len(sizes) == 4, sizes
        assert await chain.client.balance(dest) == 36
        # still serving: the next extrinsic goes in the next block
        receipt = await chain.client.transfer(chain.alice, chain.bob.ss58, 1, wait=False)
        block = await chain.service.produce_block()
        assert list(block.extrinsic_hashes) == [receipt.extrinsic_hash]


async def test_a_burst_is_split_by_time(tmp_path: Path) -> None:
    async with running_chain(tmp_path / "chain", automine=False) as chain:
        # No time to apply more than the first extrinsic the builder tries.
        chain.service.node.limits = BlockLimits(max_apply_seconds=0.0)
        exts, dest = await _burst(chain, [chain.alice, chain.bob], per=5)
        blocks = 0
        while len(chain.service.node.pool):
            block = await chain.service.produce_block()
            assert len(block.extrinsic_hashes) <= 2, len(block.extrinsic_hashes)
            blocks += 1
        assert blocks >= 5 and await chain.client.balance(dest) == len(exts)
        fees_paid = [
            json.loads(e.data_json)["fee"] for e in block.events if e.name == "TransactionFeePaid"
        ]
        assert fees_paid and all(f > 0 for f in fees_paid)


def test_live_objects_are_frozen_only_while_the_pool_is_large() -> None:
    pause = GcPause()
    pause.after_block(LARGE_POOL)  # not above the threshold: nothing frozen
    assert gc.get_freeze_count() == 0 and not pause.frozen
    try:
        pause.after_block(LARGE_POOL + 1)
        assert pause.frozen and gc.get_freeze_count() > 0
    finally:
        pause.after_block(0)  # small again: handed back to the collector
    assert gc.get_freeze_count() == 0 and not pause.frozen

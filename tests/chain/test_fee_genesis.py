"""Fees and size limits come from the genesis (``fees``), so a local network can set them; a
genesis without them charges what the chain always charged, and a replay charges what the
chain charged."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import grpc
import pytest

from subnetkit.chain import extrinsic, fees
from subnetkit.chain.genesis import GenesisConfig, dev_genesis, genesis_state
from subnetkit.chain.reexecute import reexecute
from subnetkit.core.errors import ConfigError
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, running_chain

SET = {"base_fee": 7, "length_fee_per_byte": 3, "weight_per_rao": 1000, "max_extrinsic_bytes": 4096}


def _genesis_with_fees() -> GenesisConfig:
    """A dev genesis whose JSON sets ``fees``, read back the way ``--genesis FILE`` reads it."""
    raw = json.loads(dev_genesis().to_json())
    raw["fees"] = SET
    return GenesisConfig.from_json(json.dumps(raw))


async def test_a_genesis_sets_the_fees_the_chain_charges(tmp_path: Path) -> None:
    genesis = _genesis_with_fees()
    assert genesis.fees.base_fee == 7 and genesis.fees.max_block_bytes == fees.MAX_BLOCK_BYTES
    data_dir = tmp_path / "chain"
    async with running_chain(data_dir, genesis=genesis) as chain:
        call = pb.Call(transfer=pb.Transfer(dest=chain.bob.ss58, amount=TAO))
        ext = await chain.client.sign(chain.alice, call)
        (result,) = await chain.client.submit_batch([ext], wait=True)
        expected = 7 + 3 * len(ext.SerializeToString()) + fees.weight(call) // 1000
        assert result.receipt.success and result.receipt.fee == expected
        assert expected != fees.fee(len(ext.SerializeToString()), fees.weight(call))
        # the size limit is the genesis's too: a 5 KB extrinsic is refused, saying the limit
        uids = [2**28 + i for i in range(1000)]
        big = pb.Call(set_weights=pb.SetWeights(netuid=999, uids=uids, weights=[1] * 1000))
        nonce = await chain.client.nonce(chain.alice.ss58)
        huge = extrinsic.build(chain.alice, nonce, big, await chain.client.genesis_hash())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await chain.client.stub.SubmitExtrinsic(
                pb.SubmitExtrinsicRequest(extrinsic=huge), timeout=10
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "extrinsic_too_large" in (info.value.details() or "")
        assert "4096" in (info.value.details() or "")
    async with running_chain(data_dir) as again:  # a restart keeps the stored genesis's fees
        receipt = await again.client.transfer(again.alice, again.bob.ss58, TAO)
        assert receipt.fee < fees.BASE_FEE  # 7 rao base, not the default 100,000
    report = await reexecute(data_dir)  # and a replay charges the same
    assert report.blocks >= 2


def test_no_fees_in_the_genesis_means_todays_defaults_and_the_same_genesis_state() -> None:
    cfg = dev_genesis(timestamp_ms=1)
    raw = json.loads(cfg.to_json())
    assert raw["fees"]["base_fee"] == fees.BASE_FEE
    del raw["fees"]  # a genesis stored before the field existed
    old = GenesisConfig.from_json(json.dumps(raw))
    assert old.fees == fees.FeeSchedule() == cfg.fees
    state = genesis_state(old)
    assert state.get("sys", ("fees",)) is None and fees.schedule_of(state).base_fee == 100_000
    changed = dataclasses.replace(cfg, fees=fees.FeeSchedule(base_fee=1))
    assert genesis_state(changed).root != state.root  # the fees are committed to when set


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"weight_per_rao": 0}, "weight_per_rao must be at least 1"),
        ({"base_fee": -1}, "base_fee must be a non-negative integer"),
        ({"tip": 1}, "unknown field(s): tip"),
        ({"max_block_bytes": 2048, "max_extrinsic_bytes": 4096}, "at least max_extrinsic_bytes"),
        ({"max_block_weight": 1000}, "max_block_weight must be at least"),
    ],
)
def test_a_bad_fee_schedule_is_a_one_line_config_error(bad: dict[str, int], says: str) -> None:
    raw = json.loads(dev_genesis().to_json())
    raw["fees"] = bad
    with pytest.raises(ConfigError) as info:
        GenesisConfig.from_json(json.dumps(raw))
    assert says in str(info.value) and "\n" not in str(info.value)

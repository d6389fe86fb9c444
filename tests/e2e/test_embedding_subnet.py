"""The whole product in one process: a real chain, real gRPC, the embedding subnet.

Three embedding miners of clearly different quality (the reference model, the model plus noise,
random vectors) and two staked validators run as neurons against an in-process ChainService in
manual block mode. The test produces every block itself and waits for both validators' rounds,
so nothing sleeps on a clock. After three epochs with weights on chain:

* incentive ranks the miners by quality: good > noisy > random (~0);
* both validators earn dividends;
* the last epoch's emission adds up: the owner's 18% cut, then half of the rest to miners and
  half to validators.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from subnetkit.chain.coinbase import DEFAULT_OWNER_CUT_U16, U16_MAX
from subnetkit.subnets.embedding.engines import GoodEngine, NoisyEngine, RandomEngine
from subnetkit.subnets.embedding.miner import EmbeddingMiner
from subnetkit.subnets.embedding.model import load_reference_model
from subnetkit.subnets.embedding.validator import EmbeddingValidator
from subnetkit.testing import TAO, ChainHarness
from tests.neurons.support import drive, running_miners, running_validator, settings_for

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

TEMPO = 5
EPOCHS_WITH_WEIGHTS = 3


async def test_three_miners_two_validators_three_epochs(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    model = await asyncio.to_thread(load_reference_model, "cpu")  # once per process
    netuid, owner = await h.subnet(tempo=TEMPO, weights_rate_limit=2)
    good, noisy, rand = await h.register(netuid, 3)
    v1, v2 = await h.register(netuid, 2, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, v1.ss58, 1_000 * TAO)
    await h.client.add_stake(h.charlie, netuid, v2.ss58, 600 * TAO)
    await h.produce_until_epoch(netuid)  # permits go to the staked validators
    mg = await h.client.metagraph(netuid)
    assert mg.validator_permit[mg.uid_of(v1.ss58)] and mg.validator_permit[mg.uid_of(v2.ss58)]

    settings = settings_for(
        h, netuid, tmp_path / "state", **{"validator.weights_interval_blocks": 2}
    )
    miners = [
        (EmbeddingMiner("good", engine=GoodEngine(model)), good),
        (EmbeddingMiner("noisy", engine=NoisyEngine(model, seed=1)), noisy),
        (EmbeddingMiner("random", engine=RandomEngine(seed=2)), rand),
    ]
    async with (
        running_miners(h, settings, miners),
        running_validator(h, settings, EmbeddingValidator(4, reference=model), v1) as val1,
        running_validator(h, settings, EmbeddingValidator(4, reference=model), v2) as val2,
    ):
        validators = [val1, val2]
        await drive(h, validators, 1)
        assert val1.weights.last_submit_block > 0 and val2.weights.last_submit_block > 0
        for _ in range(EPOCHS_WITH_WEIGHTS):
            ahead = int((await h.client.subnet_info(netuid)).blocks_until_next_epoch)
            await drive(h, validators, ahead)
        for v in validators:  # scoring time is exported per round
            rounds = v.registry.get_sample_value("subnetkit_validator_rounds_total")
            scored = v.registry.get_sample_value("subnetkit_validator_scoring_seconds_count")
            assert rounds is not None and rounds == scored and rounds >= 3 * TEMPO
            assert v.last_round is not None and v.last_round.seconds > 0

    mg = await h.client.metagraph(netuid)
    uid = {hk: mg.uid_of(hk.ss58) for hk in (good, noisy, rand, v1, v2)}
    incentive = {k: float(mg.incentive[u]) for k, u in uid.items()}
    assert incentive[good] > incentive[noisy] > incentive[rand], incentive
    assert incentive[rand] < 0.05, incentive
    assert float(mg.dividends[uid[v1]]) > 0 and float(mg.dividends[uid[v2]]) > 0

    # The last epoch's payout, from its EpochRun event and the per-uid emission it stored.
    epoch_block = await h.client.block(int(mg.subnet.last_epoch_block))
    [event] = [e for e in epoch_block.events if e.name == "EpochRun"]
    total = int(json.loads(event.data_json)["emission"])
    emission = [round(float(x) * 1e9) for x in mg.emission.tolist()]
    miners_paid = sum(emission[uid[k]] for k in (good, noisy, rand))
    validators_paid = sum(emission[uid[k]] for k in (v1, v2))
    block = int(epoch_block.header.number)
    owner_cut = await h.client.stake(netuid, owner.ss58, at_block=block) - await h.client.stake(
        netuid, owner.ss58, at_block=block - 1
    )
    assert owner_cut / total == pytest.approx(DEFAULT_OWNER_CUT_U16 / U16_MAX, abs=1e-4)
    assert miners_paid == pytest.approx(validators_paid, rel=1e-3)
    assert miners_paid + validators_paid + owner_cut == pytest.approx(total, rel=1e-6)

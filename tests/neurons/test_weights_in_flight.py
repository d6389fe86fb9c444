"""A weight submission that never lands does not stop the validator's rounds.

Real chain (manual blocks with automine), real echo miners, a real validator neuron. The
validator's hotkey signs one extrinsic that is never sent, so its next nonce leaves a gap: its
first ``set_weights`` sits in the pool's future part and is never included (what a chain restart
that drops the pool leaves behind). Rounds must keep querying and scoring at every block while
that submission is in flight; after ``inclusion_blocks`` blocks the wait gives up, the nonce is
re-read, and the next try sets weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.testing import TAO, ChainHarness
from subnetkit.validator.weights import DEFAULT_INCLUSION_BLOCKS
from tests.neurons.support import ROUND_TIMEOUT, running_miners, running_validator, settings_for

pytestmark = pytest.mark.timeout(90)


async def test_rounds_keep_completing_while_a_weight_submission_is_stuck(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    netuid, _ = await h.subnet()
    miners = await h.register(netuid, 2)
    [vkey] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, vkey.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)
    await h.produce(20)  # registration counts as an update: let its rate limit pass
    # A signed, never-sent extrinsic: the validator's next nonce is one past the chain's.
    await h.client.sign(vkey, pb.Call(set_weights=pb.SetWeights(netuid=netuid)))
    settings = settings_for(h, netuid, tmp_path / "state")
    async with (
        running_miners(h, settings, [(EchoMiner(), k) for k in miners]),
        running_validator(h, settings, EchoValidator(), vkey) as validator,
    ):
        head = await h.produce(1)
        await validator.wait_round(head, timeout=ROUND_TIMEOUT)
        assert validator.weights_in_flight  # the stuck set_weights
        rounds = validator.scores.round
        for _ in range(DEFAULT_INCLUSION_BLOCKS - 2):
            head = await h.produce(1)
            await validator.wait_round(head, timeout=ROUND_TIMEOUT)
            assert validator.weights_in_flight and validator.weights.last_submit_block == 0
        # every block's round queried and scored while the submission waited
        assert validator.scores.round - rounds >= DEFAULT_INCLUSION_BLOCKS - 2
        assert all(validator.scores.score(k.ss58) > 0 for k in miners)
        # The wait is bounded by blocks: a few more and it gives up; a later try goes through
        # with the chain's nonce.
        for _ in range(DEFAULT_INCLUSION_BLOCKS):
            head = await h.produce(1)
            await validator.wait_round(head, timeout=ROUND_TIMEOUT)
            await validator.wait_weights(timeout=ROUND_TIMEOUT)
            if validator.weights.last_submit_block:
                break
        assert validator.weights.last_submit_block > head - DEFAULT_INCLUSION_BLOCKS
        assert validator.fatal_error is None

"""Refused weights never kill the validator nor turn into a resend storm.

Real chain (manual blocks), real echo miners over gRPC, real validator neurons; the weight
setter is also stepped directly against real metagraphs so a refusal's follow-up is exact.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.testing import TAO, ChainHarness
from subnetkit.validator.neuron import ValidatorNeuron
from subnetkit.validator.scores import ScoreStore
from subnetkit.validator.state import CommitStore
from subnetkit.validator.weights import WeightSetter
from tests.neurons.support import drive, running_miners, running_validator, settings_for

pytestmark = pytest.mark.timeout(60)


async def _staked_validator_subnet(
    h: ChainHarness, miners: int, *, commit_reveal: bool = False, **hparams: int
) -> tuple[int, list, Any]:
    netuid, _ = await h.subnet(commit_reveal=commit_reveal, **hparams)
    keys = await h.register(netuid, miners)
    [validator] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, validator.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)
    return netuid, keys, validator


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused by the chain" in r.getMessage()]


async def test_weights_refused_by_the_pipeline_twice_in_a_row_are_waited_out(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # One scored miner gets the whole weight (65535/65535), above max_weights_limit 20000: the
    # shared pipeline refuses before anything is sent, at every attempt.
    h = chain
    netuid, [miner], vkey = await _staked_validator_subnet(h, 1, max_weights_limit=20000)
    scores = ScoreStore(alpha=0.5)
    scores.update({miner.ss58: 1.0})
    setter = WeightSetter(
        h.client, vkey, netuid, CommitStore(tmp_path / "commits.json"), interval_blocks=3
    )
    caplog.set_level(logging.INFO, logger="subnetkit.validator.weights")
    mg = await h.client.metagraph(netuid)
    head = int(h.service.head.number)
    steps = [await setter.step(mg, head + i, scores) for i in range(7)]
    assert [[(a.kind, a.code) for a in actions] for actions in steps] == [
        [("refused", "weight_above_limit")],
        [("waiting", "weight_above_limit")],
        [("waiting", "weight_above_limit")],
        [("refused", "weight_above_limit")],
        [("waiting", "weight_above_limit")],
        [("waiting", "weight_above_limit")],
        [("refused", "weight_above_limit")],
    ]
    refusals = [r for r in caplog.records if "weight_above_limit" in r.getMessage()]
    assert len(refusals) == 3  # once per attempt, not once per round
    assert setter.last_submit_block == 0


async def test_first_submission_refused_by_the_chain_is_not_resent_before_the_interval(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = chain
    netuid, miners, vkey = await _staked_validator_subnet(h, 2, weights_version_key=7)
    settings = settings_for(
        h, netuid, tmp_path / "state", **{"validator.weights_interval_blocks": 10}
    )
    caplog.set_level(logging.INFO, logger="subnetkit.validator.weights")
    async with (
        running_miners(h, settings, [(EchoMiner(), k) for k in miners]),
        running_validator(h, settings, EchoValidator(), vkey) as validator,
    ):
        await drive(h, [validator], 1)
        [refusal] = validator.last_actions
        assert (refusal.kind, refusal.code) == ("refused", "weights_version_too_old")
        # A refused extrinsic still lands in a block (automine); every round up to refusal
        # block + 9 is inside the 10-block interval and must only wait.
        await drive(h, [validator], refusal.block + 9 - int(h.service.head.number))
        assert int(h.service.head.number) == refusal.block + 9
        refused = _refusals(caplog)
        assert len(refused) == 1, refused
        assert "retrying in 10 blocks" in refused[0]
        assert [(a.kind, a.code) for a in validator.last_actions] == [
            ("waiting", "weights_version_too_old")
        ]
        await drive(h, [validator], 1)  # the interval has passed: one more try
        assert len(_refusals(caplog)) == 2
    assert validator.weights.last_submit_block == 0


def _actions(validator: ValidatorNeuron, kind: str) -> float:
    """How many weight actions of ``kind`` the validator took (its metrics counter)."""
    name = "subnetkit_validator_weight_actions_total"
    return validator.registry.get_sample_value(name, {"kind": kind}) or 0.0


async def test_restarted_validator_under_commit_reveal_does_not_resend_a_refused_commit(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The restarted validator lost its state dir (new disk): it does not know of the commit the
    # chain holds, so its first commit is refused as rate limited, and must not be resent each
    # round while last_submit_block is still 0.
    h = chain
    netuid, miners, vkey = await _staked_validator_subnet(
        h, 2, commit_reveal=True, tempo=50, weights_rate_limit=100
    )
    interval = {"validator.weights_interval_blocks": 10}
    before = settings_for(h, netuid, tmp_path / "state-before", **interval)
    after = settings_for(h, netuid, tmp_path / "state-after", **interval)
    caplog.set_level(logging.INFO, logger="subnetkit.validator.weights")
    async with running_miners(h, before, [(EchoMiner(), k) for k in miners]):
        async with running_validator(h, before, EchoValidator(), vkey) as first:
            # The first commit lands within a few blocks: the weight step runs in its own task
            # and may still wait for inclusion when the first driven round ends, and on a
            # loaded machine the first rounds may end before any miner answered (no scores,
            # nothing to commit yet). Blocks are driven, not waited for: allow a few more. The
            # counter, not ``last_actions``: a later step (nothing due yet) replaces those.
            for _ in range(8):
                await drive(h, [first], 1)
                if _actions(first, "committed"):
                    break
            assert _actions(first, "committed") == 1
        caplog.clear()
        async with running_validator(h, after, EchoValidator(), vkey) as second:
            await drive(h, [second], 5)
            assert second.weights.last_submit_block == 0
            assert second.commits.pending(netuid) == []
    refused = _refusals(caplog)
    assert len(refused) == 1, refused
    assert "commit_weights" in refused[0] and "rate_limited" in refused[0]


async def test_rate_limited_refusal_is_retried_at_the_block_the_chain_names(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A second setter for the same hotkey (a restarted validator) holds a metagraph from before
    # the first one's set: its preflight passes, the chain refuses as rate limited until a named
    # block. It must wait for that block, not retry every 3-block interval.
    h = chain
    netuid, [miner], vkey = await _staked_validator_subnet(h, 1, weights_rate_limit=20)
    scores = ScoreStore(alpha=0.5)
    scores.update({miner.ss58: 1.0})
    await h.produce(20)  # registration counts as an update: let its rate limit pass
    stale = await h.client.metagraph(netuid)
    first = WeightSetter(
        h.client, vkey, netuid, CommitStore(tmp_path / "a.json"), interval_blocks=3
    )
    [done] = await first.step(stale, int(h.service.head.number), scores)
    assert done.kind == "set", done
    until = done.block + 20
    second = WeightSetter(
        h.client, vkey, netuid, CommitStore(tmp_path / "b.json"), interval_blocks=3
    )
    caplog.set_level(logging.INFO, logger="subnetkit.validator.weights")
    head = int(h.service.head.number)
    [refusal] = await second.step(stale, head, scores)
    assert (refusal.kind, refusal.code) == ("refused", "rate_limited")
    assert f"retrying at block {until - 1}" in _refusals(caplog)[0]
    for at in range(head + 1, until - 1):
        assert [(a.kind, a.code) for a in await second.step(stale, at, scores)] == [
            ("waiting", "rate_limited")
        ]
    assert len(_refusals(caplog)) == 1
    await h.produce(until - 1 - int(h.service.head.number))
    assert int(h.service.head.number) == until - 1
    [retry] = await second.step(await h.client.metagraph(netuid), until - 1, scores)
    assert (retry.kind, retry.block) == ("set", until)

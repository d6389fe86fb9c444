"""Validator state is keyed by hotkey and survives restarts; weights respect the chain's rules.

Real chain (manual blocks), real echo miners over gRPC, real validator neurons. Blocks are
produced by the test; every wait is bounded.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.testing import TAO, ChainHarness
from subnetkit.validator.neuron import COMMITS_FILE
from tests.neurons.support import drive, running_miners, running_validator, settings_for

pytestmark = pytest.mark.timeout(60)


async def _staked_validator_subnet(
    h: ChainHarness, miners: int, *, commit_reveal: bool = False, **hparams: int
) -> tuple[int, list, object]:
    netuid, _ = await h.subnet(commit_reveal=commit_reveal, **hparams)
    keys = await h.register(netuid, miners)
    [validator] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, validator.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)
    return netuid, keys, validator


async def test_replaced_hotkey_loses_its_score(chain: ChainHarness, tmp_path: Path) -> None:
    h = chain
    netuid, _ = await h.subnet(tempo=5, max_allowed_uids=4, immunity_period=15)
    [old] = await h.register(netuid, 1)  # the only one out of immunity when the subnet is full
    await h.produce(8)
    [other] = await h.register(netuid, 1)
    [vkey] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, vkey.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)
    settings = settings_for(h, netuid, tmp_path / "state")
    async with (
        running_miners(h, settings, [(EchoMiner(), old), (EchoMiner(), other)]),
        running_validator(h, settings, EchoValidator(), vkey) as validator,
    ):
        await drive(h, [validator], 2)
        assert validator.scores.score(old.ss58) > 0 and validator.scores.score(other.ss58) > 0
        uid = (await h.client.metagraph(netuid)).uid_of(old.ss58)
        [newcomer] = await h.register(netuid, 1)  # subnet full: replaces `old`
        mg = await h.client.metagraph(netuid)
        assert mg.uid_of(newcomer.ss58) == uid and mg.uid_of(old.ss58) is None
        await drive(h, [validator], 1)
        assert old.ss58 not in validator.scores
        assert validator.scores.score(other.ss58) > 0  # others keep their history
        saved = json.loads((validator.state_dir / "scores.json").read_text())
        assert old.ss58 not in saved["miners"] and other.ss58 in saved["miners"]


async def test_restarted_validator_resumes_scores(chain: ChainHarness, tmp_path: Path) -> None:
    h = chain
    netuid, miners, vkey = await _staked_validator_subnet(h, 2, tempo=5)
    settings = settings_for(h, netuid, tmp_path / "state")
    async with running_miners(h, settings, [(EchoMiner(), k) for k in miners]):
        async with running_validator(h, settings, EchoValidator(), vkey) as first:
            await drive(h, [first], 3)
            before, rounds = first.scores.scores(), first.scores.round
        # 3 driven blocks, plus one round on the block automine makes for its weights
        # (rounds do not wait for the submission's inclusion)
        assert rounds >= 3 and all(v > 0 for v in before.values())
        async with running_validator(h, settings, EchoValidator(), vkey) as second:
            assert second.scores.scores() == before and second.scores.round == rounds
            await drive(h, [second], 1)
            assert second.scores.round >= rounds + 1
            for hotkey, score in before.items():
                assert second.scores.score(hotkey) > score  # kept growing from where it was


async def test_rate_limited_weights_are_not_sent_and_the_log_says_until_when(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = chain
    netuid, miners, vkey = await _staked_validator_subnet(h, 2, tempo=50, weights_rate_limit=40)
    settings = settings_for(
        h, netuid, tmp_path / "state", **{"validator.weights_interval_blocks": 1}
    )
    caplog.set_level(logging.INFO, logger="subnetkit.validator.weights")
    async with (
        running_miners(h, settings, [(EchoMiner(), k) for k in miners]),
        running_validator(h, settings, EchoValidator(), vkey) as validator,
    ):
        await drive(h, [validator], 1)
        first = validator.weights.last_submit_block
        assert first > 0
        await drive(h, [validator], 6)
        assert validator.weights.last_submit_block == first
        assert [a.code for a in validator.last_actions] == ["rate_limited"]
        mg = await h.client.metagraph(netuid)
        assert int(mg.last_update[mg.uid_of(vkey.ss58)]) == first  # nothing else reached chain
    limited = [r.getMessage() for r in caplog.records if "rate_limited" in r.getMessage()]
    assert len(limited) == 1, limited  # said once, not once per round
    assert f"rate limited until block {first + 40}" in limited[0]


async def test_no_permit_waits_then_sets_weights_once_permitted(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    # a tempo longer than the setup's blocks: under the dynamic schedule the first epoch falls
    # one tempo after the subnet's creation, and it must come after the first round
    netuid, _ = await h.subnet(tempo=20)
    miners = await h.register(netuid, 2)
    [vkey] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, vkey.ss58, 100 * TAO)
    settings = settings_for(
        h, netuid, tmp_path / "state", **{"validator.weights_interval_blocks": 1}
    )
    async with (
        running_miners(h, settings, [(EchoMiner(), k) for k in miners]),
        running_validator(h, settings, EchoValidator(), vkey) as validator,
    ):
        await drive(h, [validator], 1)  # no epoch yet: no permit anywhere
        assert [a.code for a in validator.last_actions] == ["no_validator_permit"]
        assert validator.weights.last_submit_block == 0
        ahead = int((await h.client.subnet_info(netuid)).blocks_until_next_epoch)
        await drive(h, [validator], ahead + 2)
        assert validator.weights.last_submit_block > 0


async def test_commit_reveal_survives_a_restart(chain: ChainHarness, tmp_path: Path) -> None:
    h = chain
    netuid, miners, vkey = await _staked_validator_subnet(
        h, 2, commit_reveal=True, tempo=5, weights_rate_limit=100
    )
    settings = settings_for(h, netuid, tmp_path / "state")
    async with running_miners(h, settings, [(EchoMiner(), k) for k in miners]):
        async with running_validator(h, settings, EchoValidator(), vkey) as first:
            await drive(h, [first], 1)
            assert [a.kind for a in first.last_actions] == ["committed"]
            [pending] = first.commits.pending(netuid)
        stored = json.loads((first.state_dir / COMMITS_FILE).read_text())
        assert stored["commits"][0]["salt"] == pending.salt.hex()
        async with running_validator(h, settings, EchoValidator(), vkey) as second:
            assert second.commits.pending(netuid) == [pending]
            head = int(h.service.head.number)
            await drive(h, [second], pending.reveal_block - head)
            assert pending.commit_hash not in second.commits  # revealed, then forgotten
        mg = await h.client.metagraph(netuid, with_weights=True)
        row = mg.weights_u16[mg.uid_of(vkey.ss58)].tolist()
        assert [row[u] for u in pending.uids] == list(pending.weights)

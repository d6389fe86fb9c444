"""One bad round never kills a validator: the error is logged with its traceback, the loop goes on.

Real chain (manual blocks), real echo miners over gRPC, a real validator neuron whose subnet code
raises a plain bug in its first rounds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.testing import TAO, ChainHarness
from tests.neurons.support import drive, running_miners, running_validator, settings_for

pytestmark = pytest.mark.timeout(60)


class _FlakyEchoValidator(EchoValidator):
    """Echo, except that building the first ``failures`` rounds' tasks raises a plain bug."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def make_task(self, seed: int) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("bug in the subnet's make_task")
        return super().make_task(seed)


async def test_an_unexpected_error_in_one_round_is_logged_and_the_loop_goes_on(
    chain: ChainHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = chain
    netuid, _ = await h.subnet()
    miners = await h.register(netuid, 2)
    [vkey] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, vkey.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)
    settings = settings_for(h, netuid, tmp_path / "state")
    caplog.set_level(logging.INFO, logger="subnetkit.validator.neuron")
    async with (
        running_miners(h, settings, [(EchoMiner(), k) for k in miners]),
        running_validator(h, settings, _FlakyEchoValidator(failures=2), vkey) as validator,
    ):
        await drive(h, [validator], 3)
        assert validator.fatal_error is None and not validator.stopping
        assert validator.scores.round >= 1  # the third round scored both miners
        assert all(validator.scores.score(k.ss58) > 0 for k in miners)
        assert validator.weights.last_submit_block > 0  # weights still went out
    failed = [r for r in caplog.records if "failed; no score changed" in r.getMessage()]
    assert len(failed) == 2, [r.getMessage() for r in failed]
    for record in failed:  # logged with its traceback
        assert record.exc_info is not None and "make_task" in str(record.exc_info[1])

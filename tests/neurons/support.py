"""Helpers shared by the neuron and end-to-end tests: settings for in-process neurons, and a
block driver that advances the chain one block at a time and waits for every validator's round.

Neurons in these tests share the harness's ChainClient (one channel) and get their hotkeys
directly (no wallet files); the process tests cover wallets and the CLI.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from subnetkit.core.keys import Signer
from subnetkit.core.settings import NeuronSettings, load_settings
from subnetkit.miner.base import Miner
from subnetkit.miner.neuron import MinerNeuron
from subnetkit.testing import ChainHarness
from subnetkit.validator.neuron import Validator, ValidatorNeuron

ROUND_TIMEOUT = 30.0


def settings_for(h: ChainHarness, netuid: int, state_dir: Path, **overrides: Any) -> NeuronSettings:
    """Settings pointing at the harness chain, binding miners on 127.0.0.1:0."""
    base: dict[str, Any] = {
        "netuid": netuid,
        "chain.endpoint": h.service.address,
        "state_dir": str(state_dir),
        "axon.host": "127.0.0.1",
        "axon.port": 0,
        "device": "cpu",
        "validator.timeout": 5.0,
    }
    base.update(overrides)
    return load_settings(None, base)


@contextlib.asynccontextmanager
async def running_miners(
    h: ChainHarness, settings: NeuronSettings, miners: Sequence[tuple[Miner, Signer]]
) -> AsyncIterator[list[MinerNeuron]]:
    neurons = [MinerNeuron(miner, settings, signer=key, chain=h.client) for miner, key in miners]
    async with contextlib.AsyncExitStack() as stack:
        for neuron in neurons:
            await stack.enter_async_context(neuron)
        yield neurons


@contextlib.asynccontextmanager
async def running_validator(
    h: ChainHarness, settings: NeuronSettings, validator: Validator, key: Signer, **kwargs: Any
) -> AsyncIterator[ValidatorNeuron]:
    """A started validator with its loop running in the background; stopped on exit."""
    neuron = ValidatorNeuron(validator, settings, signer=key, chain=h.client, **kwargs)
    async with neuron:
        neuron.spawn_until_stopped(neuron.run(), name="validator-loop")
        yield neuron


async def drive(h: ChainHarness, validators: Sequence[ValidatorNeuron], blocks: int) -> int:
    """Produce ``blocks`` blocks one at a time; after each, wait for every validator's round
    and the weight step it started (rounds do not wait on weights; these tests read them)."""
    head = int(h.service.head.number)
    for _ in range(blocks):
        head = await h.produce(1)
        for v in validators:
            await v.wait_round(head, timeout=ROUND_TIMEOUT)
            await v.wait_weights(timeout=ROUND_TIMEOUT)
            if v.fatal_error is not None:
                raise v.fatal_error
    return int(h.service.head.number)


async def epoch_blocks_ahead(h: ChainHarness, netuid: int) -> int:
    return int((await h.client.subnet_info(netuid)).blocks_until_next_epoch)

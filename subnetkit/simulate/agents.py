"""Simulated validators: each returns the weights it would set this epoch.

* ``honest``: the subnet's real validator logic, as the validator neuron runs it: ``make_task``,
  ``build_request``, a signed fan-out through ``MinerClient`` to every miner (``sample_size`` at
  a time), ``to_answer``, the subnet's scorer, the moving-average score store, then
  ``process_weights`` (the chain's own normalisation and quantisation);
* ``lazy``: queries nobody and sets last epoch's consensus as its weights (a weight copier: it
  is one epoch late by construction, and sets nothing before the first consensus exists);
* ``random``: random weights over the miners, fresh every epoch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from subnetkit.chain.metagraph import Metagraph
from subnetkit.chain.weights import process_weights
from subnetkit.core.errors import SubnetkitError
from subnetkit.core.keys import Signer
from subnetkit.validator.client import MinerClient, QueryResult, Target
from subnetkit.validator.scores import ScoreStore
from subnetkit.validator.scoring import ScoringRuntime

VALIDATOR_KINDS = ("honest", "lazy", "random")


@dataclass
class EpochView:
    """What every validator may look at when it decides this epoch's weights."""

    metagraph: Metagraph
    miners: list[Target]  # every miner, serving or not, by uid order
    uid_of: dict[str, int]
    previous: Metagraph | None  # the metagraph after the last epoch (None before the first)


@dataclass
class Agent:
    """One simulated validator: its kind, keys, and (honest ones) client and scores."""

    kind: str
    hotkey: Signer
    coldkey: Signer
    rng: random.Random
    client: MinerClient | None = None
    scores: ScoreStore = field(default_factory=ScoreStore)
    failures: int = 0  # miner answers that were errors, all epochs

    async def weights(
        self, view: EpochView, subnet: Any, runtime: ScoringRuntime | None, settings: Any
    ) -> tuple[list[int], list[float]] | None:
        """Raw (uids, weights) for this epoch, or None to set nothing."""
        if self.kind == "honest":
            assert self.client is not None and runtime is not None
            await self._query_all(view.miners, subnet, runtime, settings)
            return self.scores.weights_for(view.uid_of, view.metagraph.n)
        uids = [view.uid_of[t.hotkey] for t in view.miners]
        if self.kind == "random":
            return uids, [self.rng.random() for _ in uids]
        if view.previous is None:
            return None
        consensus = view.previous.consensus.tolist()
        return uids, [float(consensus[uid]) for uid in uids]

    async def _query_all(
        self, miners: Sequence[Target], subnet: Any, runtime: ScoringRuntime, settings: Any
    ) -> None:
        size = settings.validator.sample_size
        order = list(miners)
        self.rng.shuffle(order)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            task = subnet.make_task(self.rng.getrandbits(63))
            request = subnet.build_request(task)
            assert self.client is not None
            results = await self.client.query(
                chunk, subnet.method, request, timeout=settings.validator.timeout
            )
            answers = [self._answer(subnet, task, r) for r in results]
            scored = await runtime.score(task, answers)
            self.scores.update_round([t.hotkey for t in chunk], scored.scores)

    def _answer(self, subnet: Any, task: Any, result: QueryResult) -> Any | None:
        if result.error is not None or result.response is None:
            self.failures += 1
            return None
        try:
            return subnet.to_answer(task, result)
        except SubnetkitError:
            return None


def to_u16(
    uids: list[int], weights: list[float], metagraph: Metagraph
) -> tuple[list[int], list[int]]:
    """The submission the chain accepts, through the same pipeline the validator neuron uses."""
    hp = metagraph.hparams
    return process_weights(
        uids,
        weights,
        metagraph.n,
        min_allowed_weights=hp["min_allowed_weights"],
        max_weight_limit=hp["max_weights_limit"],
    )


__all__ = ["VALIDATOR_KINDS", "Agent", "EpochView", "to_u16"]

"""The echo validator: the smallest complete subnet validator, and a template to copy.

A subnet's validator is a :class:`validator.neuron.Validator` subclass that says what to ask and
how to score the answers. The neuron around it (``subnetkit validator run --subnet echo``) does
everything else: it picks miners from the metagraph, queries them over signed gRPC, runs the
scorer off the event loop, keeps per-hotkey moving averages and sets weights on chain.

Echo's rules: the task is a random text; an answer scores only if it is exactly that text, and
a fast exact answer scores more than a slow one:

    score = exact * (0.9 + 0.1 * speed),   speed = clamp(1 - latency / timeout, 0, 1)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from subnetkit.core.settings import NeuronSettings
from subnetkit.subnets.echo import echo_pb2
from subnetkit.validator.client import QueryResult
from subnetkit.validator.neuron import Validator
from subnetkit.validator.scoring import ScoringBatch


@dataclass(frozen=True, slots=True)
class EchoTask:
    """One round: the text every queried miner must send back."""

    text: str


@dataclass(frozen=True, slots=True)
class EchoAnswer:
    """What the scorer needs from one reply: was it exact, and how long did it take."""

    exact: bool
    latency_s: float


class EchoScorer(nn.Module):
    """Scores a round of :class:`EchoAnswer` in one tensor expression (see module docstring).

    A scorer is an ``nn.Module`` (or any callable) taking a ``ScoringBatch`` and returning one
    score in [0, 1] per answer. Real subnets put a model here (see subnets/embedding/scorer.py);
    the runtime calls it on its own worker thread, so heavy torch code never blocks the loop.
    """

    def __init__(self, latency_budget_s: float, quality_weight: float = 0.9) -> None:
        super().__init__()
        self.latency_budget_s = latency_budget_s
        self.quality_weight = quality_weight

    def forward(self, batch: ScoringBatch) -> Tensor:
        exact = torch.tensor([float(a.exact) for a in batch.responses], device=batch.device)
        latency = torch.tensor([a.latency_s for a in batch.responses], device=batch.device)
        speed = (1.0 - latency / self.latency_budget_s).clamp(0.0, 1.0)
        return exact * (self.quality_weight + (1.0 - self.quality_weight) * speed)


class EchoValidator(Validator):
    # 1. The RPC each round calls (one request message, one response message).
    method = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]

    # 2. Build from settings: here only the timeout matters (it is the latency budget).
    @classmethod
    def from_settings(cls, settings: NeuronSettings, variant: str | None = None) -> EchoValidator:
        return cls(text_bytes=16)

    def __init__(self, text_bytes: int = 16) -> None:
        self.text_bytes = text_bytes

    # 3. The task: fresh random text per round, so no miner can answer from a cache.
    def make_task(self, seed: int) -> EchoTask:
        return EchoTask(text=secrets.token_hex(self.text_bytes))

    def build_request(self, task: EchoTask) -> echo_pb2.EchoRequest:
        return echo_pb2.EchoRequest(text=task.text)

    # 4. One reply -> the scorer's input. Only called for replies whose signature checked out;
    #    failed queries (timeouts, refusals) never get here and score 0.
    def to_answer(self, task: EchoTask, result: QueryResult) -> EchoAnswer:
        response: echo_pb2.EchoResponse = result.response  # type: ignore[assignment]
        return EchoAnswer(exact=response.text == task.text, latency_s=result.latency_s)

    # 5. The scorer, built once per validator process.
    def make_scorer(self, settings: NeuronSettings) -> EchoScorer:
        return EchoScorer(latency_budget_s=settings.validator.timeout)


__all__ = ["EchoAnswer", "EchoScorer", "EchoTask", "EchoValidator"]

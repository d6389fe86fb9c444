"""The echo validator: the smallest complete subnet validator, and a template to copy.

It says what to ask (random text), how to read a reply and how to score a round; the neuron
around it (``subnetkit validator run --subnet echo``) samples miners from the metagraph, queries
them over signed gRPC, runs ``score`` off the event loop, keeps per-hotkey moving averages and
sets weights. An answer scores only if it is exactly the text sent, a fast one more:

    score = exact * (0.9 + 0.1 * speed),   speed = clamp(1 - latency / timeout, 0, 1)
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from subnetkit.core.settings import NeuronSettings
from subnetkit.subnets.echo import EchoConfig, echo_pb2
from subnetkit.validator import QueryResult, Validator


@dataclass(frozen=True, slots=True)
class EchoAnswer:
    """What scoring needs from one reply: was it exact, and how long did it take."""

    exact: bool
    latency_s: float


class EchoValidator(Validator[str, echo_pb2.EchoResponse, EchoAnswer]):
    # The RPC every round calls: "Service.Method" in the generated module.
    method = (echo_pb2, "Echo.Echo")

    def __init__(self, text_bytes: int = 16, latency_budget_s: float = 12.0) -> None:
        self.text_bytes = text_bytes
        self.latency_budget_s = latency_budget_s

    # Settings: the subnet's own [subnet] section (--set subnet.text_bytes=32) and the timeout.
    @classmethod
    def from_settings(cls, settings: NeuronSettings, variant: str | None = None) -> EchoValidator:
        config = settings.subnet_config(EchoConfig)
        return cls(config.text_bytes, latency_budget_s=settings.validator.timeout)

    # A fresh random text per round, so no miner can answer from a cache.
    def make_task(self, seed: int) -> str:
        return secrets.token_hex(self.text_bytes)

    def build_request(self, task: str) -> echo_pb2.EchoRequest:
        return echo_pb2.EchoRequest(text=task)

    # Called only for verified replies; failed queries (timeouts, refusals) score 0.
    def to_answer(self, task: str, result: QueryResult[echo_pb2.EchoResponse]) -> EchoAnswer:
        return EchoAnswer(exact=result.value.text == task, latency_s=result.latency_s)

    # One score in [0, 1] per answer. A model would go in make_scorer() as an nn.Module.
    def score(self, task: str, answers: Sequence[EchoAnswer]) -> list[float]:
        speed = [min(max(1.0 - a.latency_s / self.latency_budget_s, 0.0), 1.0) for a in answers]
        return [float(a.exact) * (0.9 + 0.1 * s) for a, s in zip(answers, speed, strict=True)]


__all__ = ["EchoAnswer", "EchoValidator"]

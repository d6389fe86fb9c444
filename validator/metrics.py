"""The validator loop's Prometheus metrics, one set per neuron (its own registry)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram


class ValidatorMetrics:
    """Per-neuron Prometheus metrics of the validator loop."""

    def __init__(self, registry: Any) -> None:
        self.rounds = Counter(
            "subnetkit_validator_rounds", "Validator rounds completed", registry=registry
        )
        self.scoring_seconds = Histogram(
            "subnetkit_validator_scoring_seconds",
            "Seconds the scorer spent on one round (worker thread)",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.answered = Gauge(
            "subnetkit_validator_answered", "Miners that answered the last round", registry=registry
        )
        self.queried = Gauge(
            "subnetkit_validator_queried", "Miners queried in the last round", registry=registry
        )
        self.failed_rounds = Counter(
            "subnetkit_validator_failed_rounds",
            "Rounds that changed no score (scorer failure or an unexpected error)",
            registry=registry,
        )
        self.last_round_block = Gauge(
            "subnetkit_validator_last_round_block",
            "Head block of the last finished round",
            registry=registry,
        )
        self.weights = Counter(
            "subnetkit_validator_weight_actions",
            "Weight actions by kind (set, committed, revealed, waiting, refused)",
            ["kind"],
            registry=registry,
        )


__all__ = ["ValidatorMetrics"]

"""Validators: subclass :class:`Validator` with a subnet's task, reply reading and scoring.

```python
from subnetkit.validator import QueryResult, Validator
from subnetkit.subnets.echo import echo_pb2

class EchoValidator(Validator[str, echo_pb2.EchoResponse, bool]):
    method = (echo_pb2, "Echo.Echo")

    def make_task(self, seed: int) -> str:
        return f"task {seed}"

    def build_request(self, task: str) -> echo_pb2.EchoRequest:
        return echo_pb2.EchoRequest(text=task)

    def to_answer(self, task: str, result: QueryResult[echo_pb2.EchoResponse]) -> bool:
        return result.value.text == task

    def score(self, task: str, answers: list[bool]) -> list[float]:
        return [float(a) for a in answers]
```

The names are imported on first use, so ``import subnetkit.validator.client`` (the fan-out
client alone, e.g. in a load generator) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from subnetkit.validator.base import Validator
    from subnetkit.validator.client import MinerClient
    from subnetkit.validator.neuron import ValidatorNeuron
    from subnetkit.validator.results import QueryError, QueryFailed, QueryResult, Target
    from subnetkit.validator.scoring import ScoringBatch

#: public name -> the module defining it
_EXPORTS = {
    "MinerClient": "subnetkit.validator.client",
    "QueryError": "subnetkit.validator.results",
    "QueryFailed": "subnetkit.validator.results",
    "QueryResult": "subnetkit.validator.results",
    "Target": "subnetkit.validator.results",
    "Validator": "subnetkit.validator.base",
    "ValidatorNeuron": "subnetkit.validator.neuron",
    "ScoringBatch": "subnetkit.validator.scoring",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "MinerClient",
    "QueryError",
    "QueryFailed",
    "QueryResult",
    "ScoringBatch",
    "Target",
    "Validator",
    "ValidatorNeuron",
]

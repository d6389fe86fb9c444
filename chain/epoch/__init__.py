"""Yuma consensus epoch in PyTorch: ``run_epoch`` over tensors, plus its inputs and outputs.

See :mod:`chain.epoch.yuma` for the algorithm and docs/epoch.md §2 for the specification.
:mod:`chain.epoch.scenario` replays scenarios in the test-vector format; a process that runs
epochs on CPU
should call :func:`chain.epoch.runtime.tune_for_epochs` once at startup (measured 2-10x faster
and steadier on shared 2-core machines).
"""

from subnetkit.chain.epoch.types import (
    EpochHyperparams,
    EpochInputs,
    EpochOutputs,
    activity_cutoff_blocks,
)
from subnetkit.chain.epoch.yuma import run_epoch

__all__ = [
    "EpochHyperparams",
    "EpochInputs",
    "EpochOutputs",
    "activity_cutoff_blocks",
    "run_epoch",
]

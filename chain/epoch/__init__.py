"""Yuma consensus epoch in PyTorch, plus its inputs and outputs.

Two implementations of one specification (docs/epoch.md): :func:`run_epoch_exact` computes in
the chain's I32F32 fixed point and reproduces subtensor's numbers bit for bit (the chain's epoch
of record); :func:`run_epoch` is the float64 model, faster, for simulations.

See :mod:`chain.epoch.yuma` for the algorithm and docs/epoch.md §2 for the specification.
:mod:`chain.epoch.scenario` replays scenarios in the test-vector format; a process that runs
epochs on CPU should call :func:`chain.epoch.process_tuning.tune_for_epochs` once at startup
(measured 2-10x faster and steadier on shared 2-core machines).
"""

from subnetkit.chain.epoch.exact import run_epoch_exact
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
    "run_epoch_exact",
]

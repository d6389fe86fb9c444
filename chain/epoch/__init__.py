"""Yuma consensus epoch in PyTorch: ``run_epoch`` over tensors, plus its inputs and outputs.

See :mod:`chain.epoch.yuma` for the algorithm and reference yuma.md §2 for the specification.
"""

from chain.epoch.types import EpochHyperparams, EpochInputs, EpochOutputs, activity_cutoff_blocks
from chain.epoch.yuma import run_epoch

__all__ = [
    "EpochHyperparams",
    "EpochInputs",
    "EpochOutputs",
    "activity_cutoff_blocks",
    "run_epoch",
]

"""What runs on a scoring worker thread: the batch a scorer sees, the device context it runs
in, and the one place its output is checked and sanitized.

Split from :mod:`subnetkit.validator.scoring` so the runtime (which schedules rounds) and each
replica (which runs them on one device) share these without importing each other.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import torch
from torch import Tensor

from subnetkit.core.errors import ConfigError, SubnetkitError

log = logging.getLogger(__name__)

#: ``precision`` values: ``auto`` is bf16 autocast on CUDA and plain fp32 elsewhere
PRECISIONS = ("auto", "bf16", "fp32")


class ScoringError(SubnetkitError):
    """The subnet's scorer broke its contract (raised, or returned the wrong shape).

    This is a bug in the subnet's scoring code, not in a miner's answer: a round whose scorer
    fails cannot be scored at all, so the validator must skip the round rather than write zeros
    into every miner's moving average.
    """

    code = "scoring"
    status = grpc.StatusCode.INTERNAL


@dataclass(frozen=True, slots=True)
class ScoringBatch:
    """What a scorer receives: the round's task and the answers to score, in order.

    ``responses`` holds only real answers (never ``None``); ``device`` is where the scorer
    should put its tensors. ``indices`` maps each response back to its position in the round
    (scorers rarely need it; it is there for logging and for scorers that look up per-miner data).
    """

    task: Any
    responses: Sequence[Any]
    device: torch.device
    indices: Sequence[int]

    def __len__(self) -> int:
        return len(self.responses)


def check_precision(precision: str) -> str:
    """``precision`` if known, else a ConfigError naming the choices."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown scoring precision {precision!r}: use one of {', '.join(PRECISIONS)}"
        )
    return precision


@contextlib.contextmanager
def device_context(device: torch.device, precision: str = "auto") -> Iterator[None]:
    """Inference mode everywhere, plus bf16 autocast (matmuls in bf16, reductions f32) on CUDA
    with ``auto``, on any device with ``bf16``, never with ``fp32``."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    with torch.inference_mode():
        if bf16 and device.type in ("cuda", "cpu"):
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                yield
        else:
            yield


def sanitize_scores(raw: Any, expected: int) -> Tensor:
    """Check a scorer's output and bring it into [0, 1] as float32 on the CPU.

    Wrong length or a non-tensor is a scorer bug (:class:`ScoringError`); NaN becomes 0 and
    out-of-range values are clamped, because the moving average must never see either.
    """
    if not isinstance(raw, Tensor):
        raise ScoringError(
            f"scorer returned {type(raw).__name__}, expected a Tensor of {expected} scores"
        )
    flat = raw.detach().reshape(-1) if raw.dim() == 2 and raw.shape[-1] == 1 else raw.detach()
    if flat.dim() != 1 or flat.shape[0] != expected:
        raise ScoringError(
            f"scorer returned shape {tuple(raw.shape)}, expected ({expected},): "
            "one score per response in the batch"
        )
    scores = flat.to(device="cpu", dtype=torch.float32)
    bad = ~torch.isfinite(scores)
    if bool(bad.any()):
        log.warning("scorer produced %d non-finite score(s); counted as 0", int(bad.sum()))
        scores = torch.where(bad, torch.zeros_like(scores), scores)
    return scores.clamp_(0.0, 1.0)


__all__ = [
    "PRECISIONS",
    "ScoringBatch",
    "ScoringError",
    "check_precision",
    "device_context",
    "sanitize_scores",
]

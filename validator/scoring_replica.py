"""One scorer replica: a device, its own worker thread, and a batch limit that shrinks on OOM.

A validator that loses a round to a CUDA out-of-memory error writes nothing for every miner it
queried, and the next round, same size, fails the same way. A replica instead halves its batch
limit and retries the chunk that failed, down to one response per call; only a scorer that
cannot score a single response raises :class:`ScoringError`. The smaller limit is kept for the
following rounds (the device did not grow) and is exported, with the retry count, so the
operator sees it and can lower ``max_batch`` for good.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import torch
from torch import Tensor, nn

from subnetkit.core.errors import SubnetkitError
from subnetkit.validator.scoring_batch import (
    ScoringBatch,
    ScoringError,
    device_context,
    sanitize_scores,
)
from subnetkit.validator.scoring_metrics import ScoringMetrics

log = logging.getLogger(__name__)


def is_out_of_memory(exc: BaseException) -> bool:
    """A device allocation failure: ``torch.cuda.OutOfMemoryError`` (also raised for MPS and
    by some extensions as a bare RuntimeError saying "out of memory")."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class ScorerReplica:
    """Scores chunks of a round on ``device``, on ``executor`` (single-threaded), alone.

    Every method but :meth:`run` runs on the replica's worker thread.
    """

    def __init__(
        self,
        scorer: Callable[[ScoringBatch], Tensor],
        device: torch.device,
        executor: Executor,
        *,
        max_batch: int,
        precision: str,
        cpu_threads: int | None,
        metrics: ScoringMetrics | None,
    ) -> None:
        self.scorer = scorer
        self.device = device
        self.executor = executor
        self.batch_limit = max_batch
        self.precision = precision
        self.cpu_threads = cpu_threads
        self.metrics = metrics
        self.oom_retries = 0
        self._prepared = False
        self._prepare_lock = threading.Lock()
        if metrics is not None:
            metrics.batch_limit(device, max_batch)

    def prepare(self) -> float:
        """Move the scorer to the device and run its ``prepare`` hook, once."""
        started = time.perf_counter()
        with self._prepare_lock:
            if self._prepared:
                return 0.0
            if self.cpu_threads is not None and self.device.type == "cpu":
                torch.set_num_threads(self.cpu_threads)
            if isinstance(self.scorer, nn.Module):
                self.scorer.to(self.device).eval()
            hook = getattr(self.scorer, "prepare", None)
            if callable(hook):
                try:
                    hook(self.device)
                except SubnetkitError:
                    raise
                except Exception as exc:
                    raise ScoringError(
                        f"scorer {_name(self.scorer)}.prepare failed: {exc!r}"
                    ) from exc
            self._prepared = True
        return time.perf_counter() - started

    def score(self, task: Any, answered: Sequence[Any], indices: Sequence[int]) -> Tensor:
        """Scores of ``answered`` (a share of one round), in order, as a float32 CPU tensor."""
        self.prepare()
        chunks: list[Tensor] = []
        lo = 0
        with device_context(self.device, self.precision):
            while lo < len(answered):
                size = min(self.batch_limit, len(answered) - lo)
                batch = ScoringBatch(
                    task=task,
                    responses=answered[lo : lo + size],
                    device=self.device,
                    indices=indices[lo : lo + size],
                )
                out_of_memory = False
                try:
                    raw = self.scorer(batch)
                except SubnetkitError:
                    raise
                except Exception as exc:
                    if not is_out_of_memory(exc) or size == 1:
                        what = "out of memory at batch 1" if is_out_of_memory(exc) else "failed"
                        raise ScoringError(f"scorer {_name(self.scorer)} {what}: {exc!r}") from exc
                    out_of_memory = True  # retried below, once the exception frees its tensors
                if out_of_memory:
                    self._shrink(size)
                    continue
                chunks.append(sanitize_scores(raw, size))
                if self.metrics is not None:
                    self.metrics.batch(self.device, size)
                lo += size
        return torch.cat(chunks) if chunks else torch.zeros(0, dtype=torch.float32)

    def _shrink(self, size: int) -> None:
        """Halve the batch limit after an out-of-memory error at ``size`` and free the cache."""
        self.batch_limit = max(1, size // 2)
        self.oom_retries += 1
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        log.warning(
            "scorer ran out of memory on %s at batch %d; retrying at %d (kept for later rounds; "
            "lower max_batch to avoid the retry)",
            self.device,
            size,
            self.batch_limit,
        )
        if self.metrics is not None:
            self.metrics.out_of_memory(self.device, self.batch_limit)


def _name(scorer: object) -> str:
    """The scorer's name in messages: a wrapped function's own name, else its class's."""
    return str(getattr(scorer, "__qualname__", None) or type(scorer).__name__)


__all__ = ["ScorerReplica", "is_out_of_memory"]

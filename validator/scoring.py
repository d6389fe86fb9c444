"""The validator's scoring runtime: one round's responses, batched device calls, off the event loop.

A subnet ships a *scorer*: either a plain function ``score(task, answers)`` returning one
score per answer (a list of floats or a tensor), or, for models, an ``nn.Module`` (or any
callable) taking a :class:`ScoringBatch` (the round's task, the responses that arrived, the
device) and returning a tensor of scores. The runtime does the rest, in the shape of
hivemind's runtime/task pool:

* missing or failed responses (``None``) score 0 and never reach the model, so a subnet's scorer
  only ever sees real answers;
* the remaining responses go to the scorer as one batch (split into ``max_batch`` chunks when a
  round is larger than the device should take at once);
* every torch call of a device runs on ONE dedicated worker thread, so the event loop that
  drives the wire never blocks and torch ops are serialized (no two rounds race for the GPU or
  for intra-op threads); concurrent ``score()`` calls simply queue on that thread;
* ``devices=["cuda:0", "cuda:1"]`` runs a replica of the scorer per device (each its own copy,
  thread and batch limit) and splits every round's answers between them;
* a CUDA out-of-memory error halves the batch and retries instead of losing the round
  (:mod:`subnetkit.validator.scoring_replica`), logged and counted;
* the work runs under ``torch.inference_mode()`` (no autograd bookkeeping), and under bf16
  autocast on CUDA (``precision="auto"``; ``"bf16"`` everywhere, ``"fp32"`` never);
* each round reports how long scoring took and where it ran (:class:`RoundScores`).

Scores are sanitized at one boundary (:func:`sanitize_scores`): NaN becomes 0 and everything is
clamped to [0, 1], because a single NaN that reaches the moving average poisons a miner forever
(the template's ``update_scores`` has to patch NaNs after the fact).
"""

from __future__ import annotations

import asyncio
import copy as copy_module
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from prometheus_client import CollectorRegistry
from torch import Tensor, nn

from subnetkit.core.errors import ConfigError
from subnetkit.validator.scoring_batch import (
    PRECISIONS,
    ScoringBatch,
    ScoringError,
    check_precision,
    device_context,
    sanitize_scores,
)
from subnetkit.validator.scoring_metrics import ScoringMetrics
from subnetkit.validator.scoring_replica import ScorerReplica

log = logging.getLogger(__name__)

WORKER_THREAD_PREFIX = "subnetkit-scoring"
"""Name prefix of the runtime's dedicated torch thread (tests and profilers look for it)."""


@runtime_checkable
class Scorer(Protocol):
    """A subnet's scorer: ``scorer(batch) -> Tensor[len(batch)]`` of scores in [0, 1].

    An ``nn.Module`` satisfies this through ``forward(batch)``. Optionally a scorer may define
    ``prepare(device)``: the runtime calls it once, on the worker thread, before the first batch
    (load a model there, so loading never blocks the event loop either).
    """

    def __call__(self, batch: ScoringBatch) -> Tensor: ...


#: A plain scoring function: ``score(task, answers) -> list[float] | Tensor``, one per answer.
TaskScorer = Callable[[Any, Sequence[Any]], "Sequence[float] | Tensor"]

#: Anything a subnet may hand the runtime as its scorer.
AnyScorer = Scorer | nn.Module | TaskScorer


class FunctionScorer:
    """A plain ``score(task, answers)`` function seen as a batch :class:`Scorer`.

    Its list of floats becomes a float32 tensor on the batch's device; a tensor passes as is.
    """

    def __init__(self, function: TaskScorer) -> None:
        self.function = function
        # What error messages call this scorer: the function's name, not this adapter's.
        self.__qualname__ = getattr(function, "__qualname__", type(function).__name__)

    def __call__(self, batch: ScoringBatch) -> Tensor:
        raw = self.function(batch.task, list(batch.responses))
        if isinstance(raw, Tensor):
            return raw
        return torch.tensor([float(x) for x in raw], dtype=torch.float32, device=batch.device)


def _takes_task_and_answers(function: Callable[..., object]) -> bool:
    """True for ``f(task, answers)``: two required positional parameters (a batch scorer
    takes one)."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume the batch form
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in positional and p.default is p.empty]
    return len(required) == 2


def as_scorer(scorer: AnyScorer) -> Scorer | nn.Module:
    """The batch scorer for what a subnet gave: modules and batch callables as they are, a
    ``score(task, answers)`` function wrapped in :class:`FunctionScorer`."""
    if not callable(scorer):
        raise ConfigError(f"scorer must be callable (a function or an nn.Module), got {scorer!r}")
    if isinstance(scorer, nn.Module | FunctionScorer) or not _takes_task_and_answers(scorer):
        return scorer  # type: ignore[return-value]
    return FunctionScorer(scorer)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RoundScores:
    """One round's scores, aligned with the responses passed to :meth:`ScoringRuntime.score`.

    ``scores`` is a float32 CPU tensor in [0, 1]; ``seconds`` is the time the worker thread spent
    scoring (device work, including ``prepare`` on the first round); ``wall_seconds`` adds the
    time spent queued behind other rounds; ``scored`` counts responses that reached the scorer.
    """

    scores: Tensor
    seconds: float
    wall_seconds: float
    device: str
    scored: int


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a configured device into a real one: ``"auto"`` is CUDA when present, else CPU.

    An explicit ``"cuda"`` on a machine without CUDA is a configuration error, reported now,
    rather than a crash in the middle of the first round.
    """
    name = str(device) if isinstance(device, torch.device) else device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"unknown scoring device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"scoring device {name!r} requested but CUDA is not available here: "
                "use --device cpu or 'auto'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(
                f"scoring device {name!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif resolved.type not in ("cpu", "mps"):
        raise ConfigError(f"unsupported scoring device {name!r}: use 'auto', 'cpu' or 'cuda'")
    return resolved


class ScoringRuntime:
    """Runs a subnet's scorer over whole rounds, one worker thread per device.

    ``device="auto"`` picks CUDA when present; ``devices`` (several) runs a replica per device
    and splits each round between them. ``max_batch`` caps how many responses go to the scorer
    in one call (larger rounds are split into consecutive chunks on the same thread; an
    out-of-memory error halves it). ``precision`` is ``auto``, ``bf16`` or ``fp32`` (see the
    module docstring). ``registry`` receives the runtime's metrics (batch size, device memory,
    out-of-memory retries). Pass ``executor`` to share a thread with other torch work (one
    device only; it must be single-threaded for the serialization guarantee to hold);
    otherwise the runtime owns its threads and :meth:`close` / ``async with`` shuts them down.

    ``cpu_threads`` (opt-in) sets torch's intra-op thread count when scoring on the CPU. It is
    a process-wide torch setting, applied once when the runtime prepares; ``None`` keeps torch's
    default of one thread per core. On a small machine that also runs the event loop, gRPC and
    other processes, 1 is often much faster: on a busy 2-core box one batched cosine over
    256x8x384 took ~2-4 ms with 1 thread and 10-70 ms with 2, because every parallel op waits
    for an OpenMP thread that the OS has descheduled.
    """

    def __init__(
        self,
        scorer: AnyScorer,
        device: str | torch.device = "auto",
        *,
        devices: Sequence[str | torch.device] | None = None,
        max_batch: int = 1024,
        precision: str = "auto",
        executor: Executor | None = None,
        cpu_threads: int | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if max_batch < 1:
            raise ConfigError(f"max_batch must be at least 1, got {max_batch}")
        if cpu_threads is not None and cpu_threads < 1:
            raise ConfigError(f"cpu_threads must be at least 1 (or None), got {cpu_threads}")
        wanted = list(devices) if devices else [device]
        resolved = [resolve_device(d) for d in wanted]
        if executor is not None and len(resolved) > 1:
            raise ConfigError("a shared executor serves one device; give one device or none")
        scorer = as_scorer(scorer)
        self.scorer = scorer
        self.devices = resolved
        self.device = resolved[0]
        self.max_batch = max_batch
        self.precision = check_precision(precision)
        self.cpu_threads = cpu_threads
        self.metrics = ScoringMetrics(registry, resolved) if registry is not None else None
        self._owned: list[Executor] = []
        self.replicas: list[ScorerReplica] = []
        for n, dev in enumerate(resolved):
            if executor is not None:
                pool = executor
            else:
                prefix = WORKER_THREAD_PREFIX if n == 0 else f"{WORKER_THREAD_PREFIX}-{n}"
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=prefix)
                self._owned.append(pool)
            # The first replica is the scorer itself (callers may inspect it); the others are
            # copies, so no two devices share a module's parameters.
            copy = scorer if n == 0 else copy_module.deepcopy(scorer)
            self.replicas.append(
                ScorerReplica(
                    copy,
                    dev,
                    pool,
                    max_batch=max_batch,
                    precision=self.precision,
                    cpu_threads=cpu_threads,
                    metrics=self.metrics,
                )
            )
        self._closed = False

    async def __aenter__(self) -> ScoringRuntime:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def oom_retries(self) -> int:
        """Out-of-memory retries across all replicas since start."""
        return sum(r.oom_retries for r in self.replicas)

    def close(self) -> None:
        """Stop the owned worker threads after the rounds already queued have finished."""
        self._closed = True
        for pool in self._owned:
            pool.shutdown(wait=False, cancel_futures=False)

    async def prepare(self) -> float:
        """Move the scorer to its devices and run its ``prepare`` hook now, on the workers.

        Optional: the first :meth:`score` does it otherwise. Calling it at startup keeps model
        loading out of the first round's timing. Returns the seconds it took (slowest device).
        """
        loop = asyncio.get_running_loop()
        took = await asyncio.gather(
            *(loop.run_in_executor(r.executor, r.prepare) for r in self.replicas)
        )
        return max(took)

    async def score(self, task: Any, responses: Sequence[Any | None]) -> RoundScores:
        """Score one round: ``responses[i]`` is miner i's answer, or ``None`` if it had none.

        Returns scores aligned with ``responses``; ``None`` entries score exactly 0 without
        reaching the scorer. Raises :class:`ScoringError` if the scorer itself fails.
        """
        if self._closed:
            raise ScoringError("scoring runtime is closed: create a new ScoringRuntime")
        indices = [i for i, response in enumerate(responses) if response is not None]
        answered = [responses[i] for i in indices]
        started = time.perf_counter()
        scores = torch.zeros(len(responses), dtype=torch.float32)
        if not answered:
            return RoundScores(scores, 0.0, time.perf_counter() - started, str(self.device), 0)
        loop = asyncio.get_running_loop()
        shares = split_shares(len(answered), len(self.replicas))
        jobs = []
        for replica, (lo, hi) in zip(self.replicas, shares, strict=False):
            jobs.append(
                loop.run_in_executor(
                    replica.executor, timed, replica, task, answered[lo:hi], indices[lo:hi]
                )
            )
        parts = await asyncio.gather(*jobs)
        scores[torch.tensor(indices, dtype=torch.long)] = torch.cat([p for p, _ in parts])
        seconds = max(s for _, s in parts)
        wall = time.perf_counter() - started
        used = ",".join(str(r.device) for r in self.replicas[: len(shares)])
        log.debug(
            "scored %d/%d responses on %s in %.4fs (wall %.4fs)",
            len(answered),
            len(responses),
            used,
            seconds,
            wall,
        )
        return RoundScores(scores, seconds, wall, used, len(answered))


def split_shares(total: int, replicas: int) -> list[tuple[int, int]]:
    """``total`` answers as contiguous (lo, hi) shares for at most ``replicas`` replicas, sizes
    differing by at most one, none empty."""
    count = max(1, min(total, replicas))
    base, extra = divmod(total, count)
    shares, lo = [], 0
    for n in range(count):
        hi = lo + base + (1 if n < extra else 0)
        shares.append((lo, hi))
        lo = hi
    return shares


def timed(
    replica: ScorerReplica, task: Any, answered: Sequence[Any], indices: Sequence[int]
) -> tuple[Tensor, float]:
    """Run on the replica's thread: its scores and the seconds the thread spent on them
    (including ``prepare`` on the first round)."""
    started = time.perf_counter()
    out = replica.score(task, answered, indices)
    return out, time.perf_counter() - started


__all__ = [
    "PRECISIONS",
    "WORKER_THREAD_PREFIX",
    "AnyScorer",
    "FunctionScorer",
    "RoundScores",
    "Scorer",
    "ScoringBatch",
    "ScoringError",
    "ScoringRuntime",
    "TaskScorer",
    "as_scorer",
    "device_context",
    "resolve_device",
    "sanitize_scores",
    "split_shares",
]

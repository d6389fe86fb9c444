"""The validator's scoring runtime: one round's responses, one device call, off the event loop.

A subnet ships a PyTorch *scorer*: an ``nn.Module`` or any callable that takes a
:class:`ScoringBatch` (the round's task, the responses that arrived, the device) and returns one
score per response. The runtime does the rest, in the shape of hivemind's runtime/task pool:

* missing or failed responses (``None``) score 0 and never reach the model, so a subnet's scorer
  only ever sees real answers;
* the remaining responses go to the scorer as one batch (split into ``max_batch`` chunks when a
  round is larger than the device should take at once);
* every torch call runs on ONE dedicated worker thread, so the event loop that drives the wire
  never blocks and torch ops are serialized (no two rounds race for the GPU or for intra-op
  threads); concurrent ``score()`` calls simply queue on that thread;
* the work runs under ``torch.inference_mode()`` (no autograd bookkeeping), and under bf16
  autocast on CUDA;
* each round reports how long scoring took and where it ran (:class:`RoundScores`).

Scores are sanitized at this one boundary: NaN becomes 0 and everything is clamped to [0, 1],
because a single NaN that reaches the moving average poisons a miner forever (the template's
``update_scores`` has to patch NaNs after the fact).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import grpc
import torch
from torch import Tensor, nn

from subnetkit.core.errors import ConfigError, SubnetkitError

log = logging.getLogger(__name__)

WORKER_THREAD_PREFIX = "subnetkit-scoring"
"""Name prefix of the runtime's dedicated torch thread (tests and profilers look for it)."""


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


@runtime_checkable
class Scorer(Protocol):
    """A subnet's scorer: ``scorer(batch) -> Tensor[len(batch)]`` of scores in [0, 1].

    An ``nn.Module`` satisfies this through ``forward(batch)``. Optionally a scorer may define
    ``prepare(device)``: the runtime calls it once, on the worker thread, before the first batch
    (load a model there, so loading never blocks the event loop either).
    """

    def __call__(self, batch: ScoringBatch) -> Tensor: ...


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


@contextlib.contextmanager
def device_context(device: torch.device) -> Iterator[None]:
    """Inference mode everywhere, plus bf16 autocast on CUDA (matmuls in bf16, reductions f32)."""
    with torch.inference_mode():
        if device.type == "cuda":
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
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


class ScoringRuntime:
    """Runs a subnet's scorer over whole rounds on one dedicated worker thread.

    ``device="auto"`` picks CUDA when present. ``max_batch`` caps how many responses go to the
    scorer in one call (larger rounds are split into consecutive chunks on the same thread).
    Pass ``executor`` to share a thread with other torch work (it must be single-threaded for
    the serialization guarantee to hold); otherwise the runtime owns one and
    :meth:`close` / ``async with`` shuts it down.

    ``cpu_threads`` (opt-in) sets torch's intra-op thread count when scoring on the CPU. It is
    a process-wide torch setting, applied once when the runtime prepares; ``None`` keeps torch's
    default of one thread per core. On a small machine that also runs the event loop, gRPC and
    other processes, 1 is often much faster: on a busy 2-core box one batched cosine over
    256x8x384 took ~2-4 ms with 1 thread and 10-70 ms with 2, because every parallel op waits
    for an OpenMP thread that the OS has descheduled.
    """

    def __init__(
        self,
        scorer: Scorer | nn.Module,
        device: str | torch.device = "auto",
        *,
        max_batch: int = 1024,
        executor: Executor | None = None,
        cpu_threads: int | None = None,
    ) -> None:
        if not callable(scorer):
            raise ConfigError(
                f"scorer must be callable (an nn.Module or a function), got {scorer!r}"
            )
        if max_batch < 1:
            raise ConfigError(f"max_batch must be at least 1, got {max_batch}")
        self.scorer = scorer
        self.device = resolve_device(device)
        if cpu_threads is not None and cpu_threads < 1:
            raise ConfigError(f"cpu_threads must be at least 1 (or None), got {cpu_threads}")
        self.max_batch = max_batch
        self.cpu_threads = cpu_threads
        self._owns_executor = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=WORKER_THREAD_PREFIX
        )
        self._prepared = False
        self._prepare_lock = threading.Lock()
        self._closed = False

    async def __aenter__(self) -> ScoringRuntime:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the owned worker thread after the rounds already queued have finished."""
        self._closed = True
        if self._owns_executor:
            self._executor.shutdown(wait=False, cancel_futures=False)

    async def prepare(self) -> float:
        """Move the scorer to its device and run its ``prepare`` hook now, on the worker thread.

        Optional: the first :meth:`score` does it otherwise. Calling it at startup keeps model
        loading out of the first round's timing. Returns the seconds it took.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._prepare_on_worker)

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
        if not answered:
            return RoundScores(
                scores=torch.zeros(len(responses), dtype=torch.float32),
                seconds=0.0,
                wall_seconds=time.perf_counter() - started,
                device=str(self.device),
                scored=0,
            )
        loop = asyncio.get_running_loop()
        scores, seconds = await loop.run_in_executor(
            self._executor, self._score_on_worker, task, answered, indices, len(responses)
        )
        wall = time.perf_counter() - started
        log.debug(
            "scored %d/%d responses on %s in %.4fs (wall %.4fs)",
            len(answered),
            len(responses),
            self.device,
            seconds,
            wall,
        )
        return RoundScores(
            scores=scores,
            seconds=seconds,
            wall_seconds=wall,
            device=str(self.device),
            scored=len(answered),
        )

    # --- worker thread only below this line -------------------------------------------------

    def _prepare_on_worker(self) -> float:
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
                        f"scorer {type(self.scorer).__name__}.prepare failed: {exc!r}"
                    ) from exc
            self._prepared = True
        return time.perf_counter() - started

    def _score_on_worker(
        self, task: Any, answered: Sequence[Any], indices: Sequence[int], total: int
    ) -> tuple[Tensor, float]:
        started = time.perf_counter()
        self._prepare_on_worker()
        chunks: list[Tensor] = []
        with device_context(self.device):
            for lo in range(0, len(answered), self.max_batch):
                hi = min(lo + self.max_batch, len(answered))
                batch = ScoringBatch(
                    task=task,
                    responses=answered[lo:hi],
                    device=self.device,
                    indices=indices[lo:hi],
                )
                try:
                    raw = self.scorer(batch)
                except SubnetkitError:
                    raise
                except Exception as exc:
                    raise ScoringError(
                        f"scorer {type(self.scorer).__name__} failed: {exc!r}"
                    ) from exc
                chunks.append(sanitize_scores(raw, hi - lo))
        scores = torch.zeros(total, dtype=torch.float32)
        scores[torch.tensor(indices, dtype=torch.long)] = torch.cat(chunks)
        return scores, time.perf_counter() - started


__all__ = [
    "WORKER_THREAD_PREFIX",
    "RoundScores",
    "Scorer",
    "ScoringBatch",
    "ScoringError",
    "ScoringRuntime",
    "device_context",
    "resolve_device",
    "sanitize_scores",
]

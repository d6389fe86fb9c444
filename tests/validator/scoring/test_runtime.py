"""The scoring runtime: batching, zero for missing answers, one worker thread, a free event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from subnetkit.core.errors import ConfigError
from subnetkit.validator.scoring import (
    WORKER_THREAD_PREFIX,
    ScoringBatch,
    ScoringError,
    ScoringRuntime,
    resolve_device,
)


class RecordingScorer:
    """Scores each response as its own float value and records how it was called."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.threads: set[str] = set()
        self.inference_mode: list[bool] = []
        self.prepared_on: list[str] = []

    def prepare(self, device: torch.device) -> None:
        self.prepared_on.append(threading.current_thread().name)

    def __call__(self, batch: ScoringBatch) -> Tensor:
        self.batches.append(list(batch.responses))
        self.threads.add(threading.current_thread().name)
        self.inference_mode.append(torch.is_inference_mode_enabled())
        return torch.tensor([float(r) for r in batch.responses], device=batch.device)


class Ticker:
    """Measures the longest gap between event-loop ticks while it runs."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.max_gap = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            self.ticks += 1
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


def test_resolve_device_auto_and_errors() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown scoring device"):
        resolve_device("tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


async def test_missing_responses_score_zero_without_reaching_scorer() -> None:
    scorer = RecordingScorer()
    async with ScoringRuntime(scorer, device="cpu") as runtime:
        result = await runtime.score("task", [0.5, None, 0.25, None, 1.0])
    assert result.scores.tolist() == [0.5, 0.0, 0.25, 0.0, 1.0]
    assert scorer.batches == [[0.5, 0.25, 1.0]]
    assert result.scored == 3
    assert result.device == "cpu"
    assert result.seconds > 0.0
    assert result.wall_seconds >= result.seconds


async def test_round_with_no_answers_never_calls_scorer() -> None:
    scorer = RecordingScorer()
    async with ScoringRuntime(scorer, device="cpu") as runtime:
        result = await runtime.score("task", [None, None])
    assert result.scores.tolist() == [0.0, 0.0]
    assert scorer.batches == []
    assert result.scored == 0


async def test_large_round_split_into_max_batch_chunks_in_order() -> None:
    scorer = RecordingScorer()
    values = [i / 10 for i in range(10)]
    async with ScoringRuntime(scorer, device="cpu", max_batch=4) as runtime:
        result = await runtime.score("task", values)
    assert [len(b) for b in scorer.batches] == [4, 4, 2]
    assert result.scores.tolist() == pytest.approx(values)


async def test_scorer_runs_on_one_dedicated_thread_in_inference_mode() -> None:
    scorer = RecordingScorer()
    async with ScoringRuntime(scorer, device="cpu") as runtime:
        await asyncio.gather(*(runtime.score(i, [0.1, 0.2]) for i in range(8)))
    assert len(scorer.threads) == 1
    (thread_name,) = scorer.threads
    assert thread_name.startswith(WORKER_THREAD_PREFIX)
    assert thread_name != threading.current_thread().name
    assert scorer.prepared_on == [thread_name]  # prepare ran once, on the worker
    assert all(scorer.inference_mode)


async def test_nan_and_out_of_range_scores_are_sanitized() -> None:
    def scorer(batch: ScoringBatch) -> Tensor:
        return torch.tensor([float("nan"), 1.7, -0.3, 0.4])

    async with ScoringRuntime(scorer, device="cpu") as runtime:
        result = await runtime.score("task", [1, 2, 3, 4])
    assert result.scores.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.4])


async def test_scorer_with_wrong_shape_is_a_scoring_error() -> None:
    def scorer(batch: ScoringBatch) -> Tensor:
        return torch.zeros(len(batch) + 1)

    async with ScoringRuntime(scorer, device="cpu") as runtime:
        with pytest.raises(ScoringError, match=r"expected \(3,\)"):
            await runtime.score("task", [1, 2, 3])


async def test_scorer_exception_becomes_scoring_error() -> None:
    def scorer(batch: ScoringBatch) -> Tensor:
        raise RuntimeError("boom")

    async with ScoringRuntime(scorer, device="cpu") as runtime:
        with pytest.raises(ScoringError, match="boom"):
            await runtime.score("task", [1])


async def test_nn_module_scorer_is_put_in_eval_mode_on_device() -> None:
    class Linear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(3, 1)
            nn.init.constant_(self.proj.weight, 0.1)
            nn.init.constant_(self.proj.bias, 0.0)
            self.dropout = nn.Dropout(p=0.99)

        def forward(self, batch: ScoringBatch) -> Tensor:
            x = torch.stack([torch.as_tensor(r, dtype=torch.float32) for r in batch.responses])
            return self.proj(self.dropout(x.to(batch.device))).squeeze(-1)

    module = Linear()
    async with ScoringRuntime(module, device="cpu") as runtime:
        result = await runtime.score("t", [[1.0, 1.0, 1.0], None, [2.0, 2.0, 2.0]])
    assert not module.training  # dropout off: deterministic scores
    assert result.scores.tolist() == pytest.approx([0.3, 0.0, 0.6])


async def test_event_loop_stays_responsive_while_a_slow_scorer_runs() -> None:
    """A scorer that holds its thread for 0.4 s must not stall the loop for more than a tick."""

    def slow_scorer(batch: ScoringBatch) -> Tensor:
        time.sleep(0.4)  # stands in for a heavy model call; it runs on the worker thread
        return torch.ones(len(batch))

    async with ScoringRuntime(slow_scorer, device="cpu") as runtime, Ticker() as ticker:
        async with asyncio.timeout(10):
            result = await runtime.score("task", [1, 2])
    assert result.scores.tolist() == [1.0, 1.0]
    assert result.seconds >= 0.4
    assert ticker.ticks >= 20
    assert ticker.max_gap < 0.2, f"event loop stalled for {ticker.max_gap:.3f}s"


async def test_ticker_detects_a_blocked_loop() -> None:
    """Control for the test above: the same ticker does catch a scorer run on the loop."""

    def blocking(batch: Sequence[Any]) -> None:
        time.sleep(0.4)

    async with Ticker() as ticker:
        await asyncio.sleep(0.02)
        blocking([1])
        await asyncio.sleep(0.02)
    assert ticker.max_gap >= 0.35


async def test_closed_runtime_refuses_rounds() -> None:
    runtime = ScoringRuntime(RecordingScorer(), device="cpu")
    runtime.close()
    with pytest.raises(ScoringError, match="closed"):
        await runtime.score("task", [0.5])


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ConfigError, match="max_batch"):
        ScoringRuntime(RecordingScorer(), device="cpu", max_batch=0)
    with pytest.raises(ConfigError, match="cpu_threads"):
        ScoringRuntime(RecordingScorer(), device="cpu", cpu_threads=0)
    with pytest.raises(ConfigError, match="callable"):
        ScoringRuntime(42, device="cpu")  # type: ignore[arg-type]


async def test_failing_prepare_hook_is_a_scoring_error() -> None:
    class BrokenPrepare(RecordingScorer):
        def prepare(self, device: torch.device) -> None:
            raise OSError("model file missing")

    async with ScoringRuntime(BrokenPrepare(), device="cpu") as runtime:
        with pytest.raises(ScoringError, match="prepare failed"):
            await runtime.prepare()


async def test_a_plain_function_scores_a_round_with_a_list_of_floats() -> None:
    seen: list[tuple[Any, list[Any]]] = []

    def score(task: str, answers: Sequence[str]) -> list[float]:
        seen.append((task, list(answers)))
        return [1.0 if a == task else 0.25 for a in answers]

    async with ScoringRuntime(score, device="cpu") as runtime:
        result = await runtime.score("x", ["x", None, "y", float("nan")])
    assert result.scores.tolist() == [1.0, 0.0, 0.25, 0.25]
    assert seen == [("x", ["x", "y", pytest.approx(float("nan"), nan_ok=True)])]


async def test_a_function_may_return_a_tensor_and_its_bugs_name_it() -> None:
    def tensor_score(task: int, answers: Sequence[float]) -> Tensor:
        return torch.tensor(answers) / task

    def broken_score(task: int, answers: Sequence[float]) -> list[float]:
        return [1.0]  # one score for a round of two

    async with ScoringRuntime(tensor_score, device="cpu") as runtime:
        assert (await runtime.score(2, [1.0, 0.5])).scores.tolist() == [0.5, 0.25]
    async with ScoringRuntime(broken_score, device="cpu") as runtime:
        with pytest.raises(ScoringError, match=r"shape \(1,\), expected \(2,\)"):
            await runtime.score(2, [1.0, 0.5])

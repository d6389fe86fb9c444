"""Out-of-memory retries and replicas, on the CPU: a test scorer raises the real CUDA OOM
exception type, so the runtime's handling is exercised exactly as on a GPU."""

from __future__ import annotations

import threading

import pytest
import torch
from prometheus_client import CollectorRegistry
from torch import Tensor

from subnetkit.validator.scoring import ScoringBatch, ScoringError, ScoringRuntime, split_shares


class FitsOnly:
    """Raises ``torch.cuda.OutOfMemoryError`` for any batch larger than ``fits``."""

    def __init__(self, fits: int) -> None:
        self.fits = fits
        self.sizes: list[int] = []
        self.threads: set[str] = set()

    def __call__(self, batch: ScoringBatch) -> Tensor:
        self.sizes.append(len(batch))
        self.threads.add(threading.current_thread().name)
        if len(batch) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return torch.tensor([float(r) for r in batch.responses], device=batch.device)


async def test_oom_halves_the_batch_and_the_round_survives() -> None:
    scorer = FitsOnly(fits=3)
    registry = CollectorRegistry()
    answers = [i / 20 for i in range(10)]
    async with ScoringRuntime(scorer, device="cpu", max_batch=16, registry=registry) as runtime:
        result = await runtime.score("task", answers)
        # 10 -> OOM, 5 -> OOM, 2 fits: every answer scored, in order
        assert result.scores.tolist() == pytest.approx(answers)
        assert scorer.sizes[:3] == [10, 5, 2]
        assert runtime.oom_retries == 2
        # the smaller limit is kept: the next round goes straight to batches of 2
        scorer.sizes.clear()
        await runtime.score("task", answers[:4])
        assert scorer.sizes == [2, 2]
    labels = {"device": "cpu"}
    assert registry.get_sample_value("subnetkit_scoring_oom_retries_total", labels) == 2
    assert registry.get_sample_value("subnetkit_scoring_batch_limit", labels) == 2
    assert registry.get_sample_value("subnetkit_scoring_batch_size", labels) == 2


async def test_oom_at_batch_one_fails_the_round_with_a_scoring_error() -> None:
    async with ScoringRuntime(FitsOnly(fits=0), device="cpu") as runtime:
        with pytest.raises(ScoringError, match="out of memory at batch 1"):
            await runtime.score("task", [0.5, 0.5])


async def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def broken(batch: ScoringBatch) -> Tensor:
        calls.append(len(batch))
        raise ValueError("bad shape")

    async with ScoringRuntime(broken, device="cpu") as runtime:
        with pytest.raises(ScoringError, match="bad shape"):
            await runtime.score("task", [0.1, 0.2, 0.3])
    assert calls == [3]


async def test_replicas_split_a_round_between_their_threads() -> None:
    scorer = FitsOnly(fits=100)
    answers = [None, 0.1, 0.2, None, 0.3, 0.4, 0.5]
    async with ScoringRuntime(scorer, devices=["cpu", "cpu"]) as runtime:
        assert len(runtime.replicas) == 2
        result = await runtime.score("task", answers)
    assert result.scores.tolist() == pytest.approx([0, 0.1, 0.2, 0, 0.3, 0.4, 0.5])
    assert result.device == "cpu,cpu"
    # the first replica is the scorer itself; the second a copy on its own thread
    copy = runtime.replicas[1].scorer
    assert copy is not scorer and isinstance(copy, FitsOnly)
    assert scorer.sizes == [3] and copy.sizes == [2]
    assert scorer.threads != copy.threads


def test_split_shares() -> None:
    assert split_shares(5, 2) == [(0, 3), (3, 5)]
    assert split_shares(1, 4) == [(0, 1)]
    assert split_shares(8, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]


async def test_precision_is_checked_and_bf16_autocasts_on_cpu() -> None:
    with pytest.raises(Exception, match="unknown scoring precision"):
        ScoringRuntime(FitsOnly(1), device="cpu", precision="fp8")
    seen: list[torch.dtype] = []

    def matmul(batch: ScoringBatch) -> Tensor:
        x = torch.ones(len(batch), 4)
        y = x @ torch.ones(4, 1)
        seen.append(y.dtype)
        return y.float().squeeze(-1) / 4

    async with ScoringRuntime(matmul, device="cpu", precision="bf16") as runtime:
        await runtime.score("t", [1, 2])
    async with ScoringRuntime(matmul, device="cpu", precision="fp32") as runtime:
        await runtime.score("t", [1, 2])
    assert seen == [torch.bfloat16, torch.float32]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
async def test_real_cuda_oom_is_retried_smaller() -> None:
    """A scorer that really allocates too much per response on the GPU: the runtime halves the
    batch until the allocation fits, and reports device memory."""
    device = torch.device("cuda:0")
    free, _ = torch.cuda.mem_get_info(device)
    per_response = free // 6  # a batch of 8 cannot fit, a batch of 4 can

    def hungry(batch: ScoringBatch) -> Tensor:
        block = torch.empty(len(batch) * per_response, dtype=torch.uint8, device=batch.device)
        del block
        return torch.ones(len(batch), device=batch.device)

    registry = CollectorRegistry()
    async with ScoringRuntime(hungry, device="cuda:0", max_batch=8, registry=registry) as rt:
        result = await rt.score("t", [1] * 8)
        assert result.scores.tolist() == [1.0] * 8
        assert rt.oom_retries >= 1
    peak = registry.get_sample_value(
        "subnetkit_scoring_device_memory_peak_bytes", {"device": "cuda:0"}
    )
    assert peak is not None and peak > per_response

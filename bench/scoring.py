"""Benchmark: embedding-subnet rounds scored per second at 256 miners, batched vs naive.

Each round is one task of ``k`` texts answered by every miner (a third good, a third noisy, a
third random, as decoded from the wire). Two ways to score it, measured in the same run on the
same device:

* **runtime**: ``ScoringRuntime`` + ``EmbeddingScorer`` -- one reference embedding, one batched
  cosine over ``[miners, k, 384]``, on the runtime's worker thread;
* **naive** (baseline): the subnet-template shape, a Python loop calling a per-miner reward
  function (one small torch call and one ``.item()`` sync per miner) after embedding the
  reference once per round. (Re-embedding the reference per miner, as a literal
  ``reward(query, response)`` would, is slower still; it is not the baseline here.)

Figures, as ratios runtime / naive:

* end to end: distinct tasks, so each round embeds its texts with the reference model;
* scoring only: the reference embedding already cached, isolating the per-miner work;
* event-loop stall: the longest gap a 5 ms ticker saw while rounds were scored through the
  runtime, versus the naive loop run on the event loop as the template does.

GPU beside CPU: ``--device both`` (the default) measures every figure on the CPU and, when
torch sees one, on CUDA, in the same run, and adds the ratios cuda / cpu of rounds per second
(end to end and scoring only). Without a GPU it measures the CPU alone and says so.

Usage: ``python bench/scoring.py [--device both|auto|cpu|cuda[:N]] [--miners 256] [--k 8]
[--quick] [--json]``. With ``--json`` the last stdout line is one JSON object of the figures:
``per_device`` holds each device's figures, ``cuda_vs_cpu`` the ratios (absent without a GPU).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from subnetkit.subnets.embedding.codec import decode_embeddings, encode_embeddings
from subnetkit.subnets.embedding.engines import GoodEngine, NoisyEngine, RandomEngine
from subnetkit.subnets.embedding.model import ReferenceModel, load_reference_model
from subnetkit.subnets.embedding.scorer import EmbeddingAnswer, EmbeddingScorer
from subnetkit.subnets.embedding.tasks import EmbeddingTask, make_task
from subnetkit.validator.scoring import ScoringRuntime, device_context, resolve_device

QUALITY_WEIGHT = 0.9
LATENCY_BUDGET_S = 2.0


def build_rounds(
    reference: ReferenceModel, miners: int, k: int, rounds: int
) -> list[tuple[EmbeddingTask, list[EmbeddingAnswer | None]]]:
    """Tasks and every miner's answer, passed through the wire codec like real responses."""
    good, noisy, rand = GoodEngine(reference), NoisyEngine(reference, seed=1), RandomEngine(seed=2)
    rng = np.random.default_rng(3)
    out = []
    for seed in range(rounds):
        task = make_task(seed, k=k)
        clean = good.embed(task.texts)
        answers: list[EmbeddingAnswer | None] = []
        for miner in range(miners):
            kind = miner % 3
            if kind == 0:
                vectors = clean
            elif kind == 1:
                vectors = (clean + rng.normal(0, noisy.sigma, clean.shape)).astype(np.float32)
            else:
                vectors = rand.embed(task.texts)
            wire = encode_embeddings(vectors)
            decoded = decode_embeddings(wire, count=k)
            answers.append(EmbeddingAnswer(decoded, latency_s=float(rng.uniform(0.05, 1.5))))
        out.append((task, answers))
    return out


def naive_round(
    reference: ReferenceModel,
    task: EmbeddingTask,
    answers: Sequence[EmbeddingAnswer | None],
    device: torch.device,
    cached_reference: Tensor | None = None,
) -> list[float]:
    """Baseline: the per-miner reward loop of the subnet template (same formula)."""
    with device_context(device):
        ref = cached_reference
        if ref is None:
            ref = reference.embed(task.texts).to(device, torch.float32)
        scores = []
        for answer in answers:
            if answer is None or tuple(answer.vectors.shape) != tuple(ref.shape):
                scores.append(0.0)
                continue
            vectors = torch.from_numpy(np.array(answer.vectors, dtype=np.float32)).to(device)
            cosine = (vectors * F.normalize(ref, dim=-1)).sum(-1) / vectors.norm(dim=-1).clamp_min(
                1e-8
            )
            quality = cosine.mean().clamp(0.0, 1.0).item()
            speed = min(1.0, max(0.0, 1.0 - answer.latency_s / LATENCY_BUDGET_S))
            scores.append(quality * (QUALITY_WEIGHT + (1 - QUALITY_WEIGHT) * speed))
    return scores


class LoopTicker:
    """Longest gap between 5 ms event-loop ticks while active."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    async def __aenter__(self) -> LoopTicker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def time_runtime(
    runtime: ScoringRuntime, rounds: Sequence[tuple[EmbeddingTask, list[Any]]], repeat: int
) -> tuple[float, float, list[Tensor]]:
    """Seconds per round through the runtime, the worst loop stall, and the scores."""
    results = []
    async with LoopTicker() as ticker:
        started = time.perf_counter()
        for _ in range(repeat):
            for task, answers in rounds:
                results.append((await runtime.score(task, answers)).scores)
        elapsed = time.perf_counter() - started
    return elapsed / (repeat * len(rounds)), ticker.max_gap, results


async def time_naive_on_loop(
    fn: Callable[[EmbeddingTask, list[Any]], list[float]],
    rounds: Sequence[tuple[EmbeddingTask, list[Any]]],
    repeat: int,
) -> tuple[float, float, list[list[float]]]:
    """Seconds per round of the naive loop run ON the event loop, and the worst stall."""
    results = []
    async with LoopTicker() as ticker:
        started = time.perf_counter()
        for _ in range(repeat):
            for task, answers in rounds:
                results.append(fn(task, answers))
                await asyncio.sleep(0)  # the template yields between rounds, not inside them
        elapsed = time.perf_counter() - started
    return elapsed / (repeat * len(rounds)), ticker.max_gap, results


def bench_devices(name: str) -> list[torch.device]:
    """The devices to measure: ``both`` is cpu, plus cuda when torch sees a GPU."""
    if name != "both":
        return [resolve_device(name)]
    gpu = [resolve_device("cuda")] if torch.cuda.is_available() else []
    return [resolve_device("cpu"), *gpu]


async def measure(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the module docstring on one device (runtime vs naive, same device)."""
    started = time.perf_counter()
    reference = await asyncio.to_thread(load_reference_model, device)
    load_s = time.perf_counter() - started
    rounds = build_rounds(reference, args.miners, args.k, args.rounds)

    scorer = EmbeddingScorer(
        reference, quality_weight=QUALITY_WEIGHT, latency_budget_s=LATENCY_BUDGET_S
    )
    async with ScoringRuntime(scorer, device=device, cpu_threads=args.cpu_threads) as runtime:
        await runtime.prepare()
        await time_runtime(runtime, rounds[:2], 1)  # warm-up (allocator, kernels)
        naive_round(reference, *rounds[0], device)

        # End to end: every round a new task, so the reference is embedded each time
        # (the scorer caches 4 rounds; the task list is longer than that).
        assert len(rounds) > 4
        rt_e2e, rt_stall, rt_scores = await time_runtime(runtime, rounds, 1)
        nv_e2e, nv_stall, nv_scores = await time_naive_on_loop(
            lambda t, a: naive_round(reference, t, a, device), rounds, 1
        )
        # Both arms must score alike (bf16 autocast on the GPU rounds a little more).
        tolerance = 2e-2 if device.type == "cpu" else 5e-2
        for batched, naive in zip(rt_scores, nv_scores, strict=True):
            np.testing.assert_allclose(
                batched.float().cpu().numpy(), np.array(naive), atol=tolerance
            )

        # Scoring only: one task, reference cached on both sides.
        task, answers = rounds[0]
        ref = scorer.reference_embeddings(task, device)
        rt_only, _, _ = await time_runtime(runtime, [(task, answers)], args.rounds)
        nv_only, _, _ = await time_naive_on_loop(
            lambda t, a: naive_round(reference, t, a, device, cached_reference=ref),
            [(task, answers)],
            args.rounds,
        )

        ref_started = time.perf_counter()
        for task, _ in rounds:
            reference.embed(task.texts)
        reference_ms = (time.perf_counter() - ref_started) / len(rounds) * 1e3

    return {
        "device": str(device),
        "model_load_s": round(load_s, 2),
        "reference_embed_ms": round(reference_ms, 2),
        "runtime_rounds_per_s": round(1 / rt_e2e, 2),
        "naive_rounds_per_s": round(1 / nv_e2e, 2),
        "end_to_end_speedup": round(nv_e2e / rt_e2e, 2),
        "runtime_scoring_only_rounds_per_s": round(1 / rt_only, 2),
        "naive_scoring_only_rounds_per_s": round(1 / nv_only, 2),
        "scoring_only_speedup": round(nv_only / rt_only, 2),
        "runtime_loop_max_stall_ms": round(rt_stall * 1e3, 2),
        "naive_on_loop_max_stall_ms": round(nv_stall * 1e3, 2),
        "loop_stall_ratio": round(nv_stall / max(rt_stall, 1e-6), 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    devices = bench_devices(args.device)
    if args.cpu_threads is not None:
        torch.set_num_threads(args.cpu_threads)  # process-wide: every arm runs under it
    per_device = {str(device): await measure(device, args) for device in devices}
    figures: dict[str, Any] = {
        "bench": "scoring",
        "devices": list(per_device),
        "cuda_available": torch.cuda.is_available(),
        "torch_threads": torch.get_num_threads(),
        "miners": args.miners,
        "k": args.k,
        "rounds": args.rounds,
        "per_device": per_device,
    }
    cpu = per_device.get("cpu")
    gpu = next((f for name, f in per_device.items() if name.startswith("cuda")), None)
    if cpu is not None and gpu is not None:
        figures["cuda_vs_cpu"] = {
            "device": gpu["device"],
            "gpu_name": torch.cuda.get_device_name(torch.device(gpu["device"])),
            "end_to_end": round(gpu["runtime_rounds_per_s"] / cpu["runtime_rounds_per_s"], 2),
            "scoring_only": round(
                gpu["runtime_scoring_only_rounds_per_s"] / cpu["runtime_scoring_only_rounds_per_s"],
                2,
            ),
        }
    return figures


def report(figures: dict[str, Any]) -> None:
    f = figures
    print(
        f"scoring bench ({f['torch_threads']} torch threads): {f['miners']} miners x {f['k']} "
        f"texts, {f['rounds']} rounds, on {' and '.join(f['devices'])}"
        + ("" if f["cuda_available"] else " (no GPU here: CPU only)")
    )
    for d in f["per_device"].values():
        print(
            f"{d['device']}: model load {d['model_load_s']} s, "
            f"reference embed {d['reference_embed_ms']} ms/round"
        )
        print(
            f"  end to end    runtime {d['runtime_rounds_per_s']:>9.2f} rounds/s   "
            f"naive {d['naive_rounds_per_s']:>9.2f} rounds/s   x{d['end_to_end_speedup']}"
        )
        print(
            f"  scoring only  runtime {d['runtime_scoring_only_rounds_per_s']:>9.2f} rounds/s   "
            f"naive {d['naive_scoring_only_rounds_per_s']:>9.2f} rounds/s   "
            f"x{d['scoring_only_speedup']}"
        )
        print(
            f"  loop stall    runtime {d['runtime_loop_max_stall_ms']:>9.2f} ms         "
            f"naive {d['naive_on_loop_max_stall_ms']:>9.2f} ms         "
            f"x{d['loop_stall_ratio']} (naive / runtime)"
        )
    ratio = f.get("cuda_vs_cpu")
    if ratio is not None:
        print(
            f"{ratio['device']} ({ratio['gpu_name']}) vs cpu, runtime rounds/s: "
            f"end to end x{ratio['end_to_end']}, scoring only x{ratio['scoring_only']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device",
        default="both",
        help="both (cpu, plus cuda when there is one; the default), auto, cpu, cuda or cuda:N",
    )
    parser.add_argument("--miners", type=int, default=256)
    parser.add_argument("--k", type=int, default=8, help="texts per task")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--cpu-threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    parser.add_argument("--quick", action="store_true", help="8 rounds: a smoke run")
    parser.add_argument("--json", action="store_true", help="last line: JSON of the figures")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 8
    figures = asyncio.run(run(args))
    report(figures)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Epoch benchmark: ``run_epoch`` (float64, exact median, all masks) against a plain dense
float32 Yuma epoch (cumulative-stake quantile instead of the exact median, no masks) run in the
same process, for n uids × v validators, and ``run_epoch_exact`` (the chain's I32F32 fixed
point, the epoch of record) beside the float64 epoch. Prints milliseconds per epoch and ratios.

    .venv/bin/python bench/epoch.py [--quick] [--device cuda] [--json] [--threads N]
                                    [--no-retain] [--sizes 256,1024] [--validators 64,256]

Sizes default to n in {256, 1024, 4096} with {64, 256, 1024} validators (``--quick``: 256 and
4096 with 64 and 256); with ``--device cuda`` n=16384 is added to the default sizes.
``--sizes`` / ``--validators`` replace the defaults (validator counts above n are skipped).

With ``--json`` the last stdout line is one JSON object with every figure. The targets, at
n=4096, v=256: at most 50 ms per float64 epoch on a 2-core CPU, and the exact epoch at most
2x the float64 one (``exact_ratio``, measured alternately in the same process). By default the
process is set up the way the chain sets itself up (``tune_for_epochs()`` in
chain/epoch/process_tuning.py: one torch thread, freed memory kept mapped); ``--threads N`` and
``--no-retain`` measure other settings. All implementations always run under the same settings,
in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

# Run as `python bench/epoch.py`, sys.path[0] is bench/, where bench/chain.py would shadow the
# `chain` package: drop that entry so `chain` resolves to the installed package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from subnetkit.chain.epoch import (  # noqa: E402
    EpochHyperparams,
    EpochInputs,
    run_epoch,
    run_epoch_exact,
)
from subnetkit.chain.epoch.process_tuning import tune_for_epochs  # noqa: E402

TARGET_MS = 50.0
EXACT_TARGET_RATIO = 2.0
BLOCK = 10_000
DEFAULT_SIZES = (256, 1024, 4096)
DEFAULT_VALIDATORS = (64, 256, 1024)
QUICK_SIZES = (256, 4096)
QUICK_VALIDATORS = (64, 256)
GPU_SIZE = 16384
"""Added to the default sizes on CUDA: the size a GPU is for (issue 3)."""


def make_inputs(n: int, v: int, device: torch.device, seed: int = 0) -> EpochInputs:
    """A subnet where uids 0..v-1 are permitted validators weighting every uid."""
    gen = torch.Generator().manual_seed(seed)
    stake = torch.rand(n, generator=gen, dtype=torch.float64) * 10.0
    stake[:v] = 1e6 + torch.rand(v, generator=gen, dtype=torch.float64) * 1e6
    weights = torch.zeros((n, n), dtype=torch.int64)
    weights[:v] = torch.randint(0, 65536, (v, n), generator=gen)
    mask = torch.zeros((n, n), dtype=torch.bool)
    mask[:v] = True
    bonds = torch.zeros((n, n), dtype=torch.int64)
    bonds[:v] = torch.randint(0, 65536, (v, n), generator=gen)
    permit = torch.zeros(n, dtype=torch.bool)
    permit[:v] = True
    return EpochInputs(
        stake=stake.to(device),
        weights=weights.to(device),
        weights_mask=mask.to(device),
        bonds=bonds.to(device),
        last_update=torch.full((n,), BLOCK - 5, dtype=torch.int64, device=device),
        block_at_registration=torch.randint(0, BLOCK - 400, (n,), generator=gen).to(device),
        validator_permit=permit.to(device),
        current_block=BLOCK,
        last_mechanism_step_block=BLOCK - 361,
        rao_emission=360 * 10**9,
    )


def dense_float32_epoch(stake: torch.Tensor, weights: torch.Tensor, bonds: torch.Tensor):
    """Baseline: textbook dense Yuma in float32 over the full n×n matrices, no masks."""
    s = stake / stake.sum()
    w = weights / weights.sum(dim=1, keepdim=True).clamp(min=1e-12)
    order = torch.sort(w.t().contiguous(), dim=1)  # each column of W as a row: faster to sort
    cum = torch.cumsum(s[order.indices], dim=1)
    pos = (cum < 0.5).sum(dim=1).clamp(max=w.shape[0] - 1)
    consensus = order.values.gather(1, pos.unsqueeze(1)).squeeze(1)
    clipped = torch.minimum(w, consensus)
    rank = s @ clipped
    incentive = rank / rank.sum()
    b = bonds / bonds.sum(dim=0, keepdim=True).clamp(min=1e-12)
    delta = clipped * s.unsqueeze(1)
    delta = delta / delta.sum(dim=0, keepdim=True).clamp(min=1e-12)
    ema = 0.1 * delta + 0.9 * b
    ema = ema / ema.sum(dim=0, keepdim=True).clamp(min=1e-12)
    dividends = ema @ incentive
    return incentive, dividends / dividends.sum(), ema


def _time_ms(
    fn, repeats: int, device: torch.device, *, warm_up: bool = True
) -> tuple[float, float]:
    """Median wall-clock and process-CPU milliseconds per call.

    CPU time is what to read on a shared machine: when other processes hold the cores, wall
    time includes waiting for a core, CPU time only the work done.
    """
    if warm_up:
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return statistics.median(wall), statistics.median(cpu)


def _time_pair_ms(
    first, second, repeats: int, device: torch.device
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) milliseconds of two functions timed alternately, call by call.

    Alternating keeps both under the same machine load, so their ratio is fair on a shared
    machine where the load moves from one second to the next.
    """
    first()
    second()
    runs: list[list[tuple[float, float]]] = [[], []]
    for _ in range(repeats):
        for k, fn in enumerate((first, second)):
            runs[k].append(_time_ms(fn, 1, device, warm_up=False))
    return (
        (statistics.median(w for w, _ in runs[0]), statistics.median(c for _, c in runs[0])),
        (statistics.median(w for w, _ in runs[1]), statistics.median(c for _, c in runs[1])),
    )


def _positive_ints(text: str) -> list[int]:
    """``"256,1024"`` -> ``[256, 1024]`` for argparse, refusing anything but positive ints."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def choose_sizes(
    sizes: list[int] | None, validators: list[int] | None, *, quick: bool, cuda: bool
) -> tuple[list[int], list[int]]:
    """The (n, v) grid to run: explicit lists win; defaults gain n=16384 on CUDA."""
    if sizes is None:
        sizes = list(QUICK_SIZES if quick else DEFAULT_SIZES)
        if cuda:
            sizes.append(GPU_SIZE)
    if validators is None:
        validators = list(QUICK_VALIDATORS if quick else DEFAULT_VALIDATORS)
    return sorted(set(sizes)), sorted(set(validators))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    parser.add_argument(
        "--no-retain", action="store_true", help="leave glibc's allocator thresholds alone"
    )
    parser.add_argument(
        "--sizes",
        type=_positive_ints,
        default=None,
        help="comma-separated uid counts n (default 256,1024,4096; +16384 on cuda)",
    )
    parser.add_argument(
        "--validators",
        type=_positive_ints,
        default=None,
        help="comma-separated validator counts v (default 64,256,1024)",
    )
    args = parser.parse_args(argv)
    applied = tune_for_epochs(
        threads=args.threads if args.threads > 0 else None, retain_memory=not args.no_retain
    )
    retained = applied["retain_freed_memory"]
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    sizes, validators = choose_sizes(
        args.sizes, args.validators, quick=args.quick, cuda=device.type == "cuda"
    )
    repeats = 3 if args.quick else 7
    results = []
    print(
        f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} "
        f"retain_freed_memory={retained}"
    )
    print(
        f"{'n':>6} {'v':>6} {'epoch ms':>9} {'(cpu)':>7} {'dense f32 ms':>13} {'(cpu)':>8} "
        f"{'ratio':>7} {'(cpu)':>7} {'exact ms':>9} {'(cpu)':>7} {'exact/f64':>9} {'(cpu)':>7}"
    )
    for n in sizes:
        for v in validators:
            if v > n:
                continue
            inputs = make_inputs(n, v, device)
            hp = EpochHyperparams(max_allowed_validators=v, tempo=360)
            (ours, ours_cpu), (exact, exact_cpu) = _time_pair_ms(
                lambda inputs=inputs, hp=hp: run_epoch(inputs, hp),
                lambda inputs=inputs, hp=hp: run_epoch_exact(inputs, hp),
                repeats,
                device,
            )
            s32 = inputs.stake.to(torch.float32)
            w32 = inputs.weights.to(torch.float32)
            b32 = inputs.bonds.to(torch.float32)
            base, base_cpu = _time_ms(
                lambda s32=s32, w32=w32, b32=b32: dense_float32_epoch(s32, w32, b32),
                max(1, repeats // 3),
                device,
                # Seconds per call at n >= 4096 on CPU: a warm-up only adds time there. CUDA
                # always warms up (its first call pays for kernel loading).
                warm_up=n < 4096 or device.type == "cuda",
            )
            results.append(
                {
                    "n": n,
                    "validators": v,
                    "epoch_ms": round(ours, 3),
                    "epoch_cpu_ms": round(ours_cpu, 3),
                    "dense_f32_ms": round(base, 3),
                    "dense_f32_cpu_ms": round(base_cpu, 3),
                    "ratio": round(ours / base, 4),
                    "ratio_cpu": round(ours_cpu / max(base_cpu, 1e-9), 4),
                    "exact_ms": round(exact, 3),
                    "exact_cpu_ms": round(exact_cpu, 3),
                    "exact_ratio": round(exact / ours, 4),
                    "exact_ratio_cpu": round(exact_cpu / max(ours_cpu, 1e-9), 4),
                }
            )
            print(
                f"{n:>6} {v:>6} {ours:>9.2f} {ours_cpu:>7.2f} {base:>13.2f} {base_cpu:>8.2f} "
                f"{ours / base:>7.3f} {ours_cpu / max(base_cpu, 1e-9):>7.3f} "
                f"{exact:>9.2f} {exact_cpu:>7.2f} {exact / ours:>9.3f} "
                f"{exact_cpu / max(ours_cpu, 1e-9):>7.3f}"
            )
            del inputs, s32, w32, b32
    target = next((r for r in results if r["n"] == 4096 and r["validators"] == 256), None)
    if target is not None:
        verdict = "meets" if target["epoch_ms"] <= TARGET_MS else "MISSES"
        print(
            f"target n=4096 v=256 <= {TARGET_MS} ms: {verdict} "
            f"({target['epoch_ms']} ms wall, {target['epoch_cpu_ms']} ms cpu)"
        )
        exact_ok = "meets" if target["exact_ratio_cpu"] <= EXACT_TARGET_RATIO else "MISSES"
        print(
            f"target exact <= {EXACT_TARGET_RATIO}x float64 at n=4096 v=256: {exact_ok} "
            f"({target['exact_ratio']}x wall, {target['exact_ratio_cpu']}x cpu)"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "bench": "epoch",
                    "device": str(device),
                    "threads": torch.get_num_threads(),
                    "retain_freed_memory": retained,
                    "target_ms": TARGET_MS,
                    "exact_target_ratio": EXACT_TARGET_RATIO,
                    "sizes": sizes,
                    "validators": validators,
                    "results": results,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

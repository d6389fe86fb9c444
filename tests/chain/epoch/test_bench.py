"""bench/epoch.py: the size grid it picks and a tiny real run ending in one JSON line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "epoch.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_epoch", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_sizes_gain_16384_on_cuda_only() -> None:
    bench = _bench_module()
    cpu = bench.choose_sizes(None, None, quick=False, cuda=False)
    assert cpu == ([256, 1024, 4096], [64, 256, 1024])
    gpu_sizes, _ = bench.choose_sizes(None, None, quick=False, cuda=True)
    assert gpu_sizes == [256, 1024, 4096, 16384]
    assert 16384 in bench.choose_sizes(None, None, quick=True, cuda=True)[0]
    # Explicit lists win, deduplicated and ordered.
    assert bench.choose_sizes([512, 128, 512], [8], quick=False, cuda=True) == ([128, 512], [8])


def test_small_run_prints_figures_and_a_json_line() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--sizes",
            "64,32",
            "--validators",
            "8,64",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["sizes"] == [32, 64]
    # v=64 > n=32 is skipped; every other pair is measured beside the baseline.
    pairs = [(r["n"], r["validators"]) for r in figures["results"]]
    assert pairs == [(32, 8), (64, 8), (64, 64)]
    assert all(r["epoch_ms"] > 0 and r["dense_f32_ms"] > 0 for r in figures["results"])
    # The exact epoch is measured beside the float64 one in the same run.
    assert all(r["exact_ms"] > 0 and r["exact_ratio"] > 0 for r in figures["results"])


def test_bad_sizes_are_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "0,abc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "--sizes" in proc.stderr

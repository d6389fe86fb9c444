"""bench/scoring.py measures GPU beside CPU in one run (rounds scored per second, as ratios).

Runs the real bench script as a process on a tiny round (6 miners, 2 texts) and reads its JSON
line: the CPU is always measured with its naive baseline; CUDA too, with the cuda / cpu ratio,
whenever this machine has a GPU.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scoring.py"


async def test_default_device_measures_cpu_and_cuda_when_there_is_one() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH),
        "--quick",
        "--miners",
        "6",
        "--k",
        "2",
        "--cpu-threads",
        "1",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(100):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    figures = json.loads(out.decode().splitlines()[-1])
    gpu = torch.cuda.is_available()
    assert figures["devices"] == (["cpu", "cuda"] if gpu else ["cpu"])
    assert figures["miners"] == 6 and figures["cuda_available"] is gpu
    for name in figures["devices"]:
        device = figures["per_device"][name]
        assert device["runtime_rounds_per_s"] > 0 and device["naive_rounds_per_s"] > 0
        assert device["end_to_end_speedup"] > 0  # runtime beside its baseline, same device
    if gpu:
        ratio = figures["cuda_vs_cpu"]
        cpu, cuda = figures["per_device"]["cpu"], figures["per_device"]["cuda"]
        expected = cuda["runtime_rounds_per_s"] / cpu["runtime_rounds_per_s"]
        assert ratio["end_to_end"] == pytest.approx(expected, rel=0.01, abs=0.01)
    else:
        assert "cuda_vs_cpu" not in figures
        assert "CPU only" in out.decode()

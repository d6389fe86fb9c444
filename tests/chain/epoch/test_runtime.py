"""tune_for_epochs changes process-wide settings, so it is checked in a child process."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, torch
from subnetkit.chain.epoch.process_tuning import tune_for_epochs
from subnetkit.chain.epoch import EpochHyperparams, EpochInputs, run_epoch
applied = tune_for_epochs(threads=1)
n = 64
out = run_epoch(EpochInputs(
    stake=torch.ones(n, dtype=torch.float64),
    weights=torch.full((n, n), 65535), weights_mask=torch.ones((n, n), dtype=torch.bool),
    bonds=torch.zeros((n, n), dtype=torch.int64), last_update=torch.full((n,), 10),
    block_at_registration=torch.zeros(n, dtype=torch.int64),
    validator_permit=torch.ones(n, dtype=torch.bool), current_block=10,
    last_mechanism_step_block=5, rao_emission=1000), EpochHyperparams(max_allowed_validators=n))
print(json.dumps({**applied, "incentive_sum": float(out.incentive.sum())}))
"""


def test_tune_for_epochs_in_a_child_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["torch_threads"] == 1
    assert doc["retain_freed_memory"] in (True, False)
    if sys.platform == "linux":
        assert doc["retain_freed_memory"] is True
    assert abs(doc["incentive_sum"] - 1.0) < 1e-9

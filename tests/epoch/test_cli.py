"""``subnetkit epoch replay``: vectors in, outputs out; malformed scenarios get one line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from subnetkit.cli import main

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / ".." / "shared" / "reference" / "yuma-vectors"
ZERO_WEIGHTS = VECTORS / "rust_test_zero_weights.json"
needs_vectors = pytest.mark.skipif(
    not ZERO_WEIGHTS.is_file(), reason=f"yuma vectors not found at {VECTORS.resolve()}"
)


def _run(monkeypatch, capsys, stdin: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["epoch", "replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@needs_vectors
@pytest.mark.parametrize("flag", [[], ["--stateful"]])
def test_replay_writes_one_entry_per_epoch(monkeypatch, capsys, flag) -> None:
    scenario = json.loads(ZERO_WEIGHTS.read_text())
    code, out, err = _run(monkeypatch, capsys, ZERO_WEIGHTS.read_text(), *flag)
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["epochs"]) == len(scenario["epochs"])
    for got, want in zip(doc["epochs"], scenario["expected"], strict=True):
        assert got["validator_emission"] == want["validator_emission"]
        assert got["u16"]["stake_weight"] == want["u16"]["stake_weight"]
        assert set(want) <= set(got)


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        ("not json", "not valid JSON"),
        ("[]", "scenario must be a JSON object"),
        ('{"hyperparameters": {}, "epochs": []}', "scenario.n is missing"),
        ('{"n": 2, "hyperparameters": {"kappa": 70000}, "epochs": []}', "kappa"),
        ('{"n": 2, "hyperparameters": {}, "epochs": [{}]}', "epochs[0].weights is missing"),
        (
            '{"n": 2, "hyperparameters": {}, "epochs": [{"weights_sparse": [[[5, 1]], []]}]}',
            "epochs[0].weights_sparse[0][0][0] uid 5 is out of range",
        ),
        (
            '{"n": 2, "hyperparameters": {}, "epochs": [{"weights": [[0, 0], [0, 0]],'
            ' "stake": [1, -1]}]}',
            "epochs[0].stake[1]",
        ),
    ],
)
def test_malformed_scenario_is_one_line_naming_the_field(
    monkeypatch, capsys, scenario: str, field: str
) -> None:
    code, out, err = _run(monkeypatch, capsys, scenario)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error[config]: ")
    assert field in lines[0]


@needs_vectors
def test_console_script_pipes_stdin_to_stdout() -> None:
    """The installed entry point, as a real process reading stdin."""
    exe = Path(sys.executable).parent / "subnetkit"
    proc = subprocess.run(
        [str(exe), "epoch", "replay", "--stateful"],
        input=ZERO_WEIGHTS.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["epochs"]) == 4
    bad = subprocess.run(
        [str(exe), "epoch", "replay"],
        input='{"n": 0}',
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error[config]: scenario.n must be >= 1, got 0"
    assert "Traceback" not in bad.stderr

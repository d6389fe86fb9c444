"""``subnetkit epoch replay``: vectors in, outputs out; malformed scenarios get one line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from subnetkit.cli import main

VECTORS = Path(__file__).resolve().parent / "vectors"
ZERO_WEIGHTS = VECTORS / "rust_test_zero_weights.json"


def vector_text(name: str) -> str:
    """A public vector's text (vendored in tests/chain/epoch/vectors/)."""
    path = VECTORS / name
    assert path.is_file(), f"epoch vectors not found at {path}"
    return path.read_text()


def _run(monkeypatch, capsys, stdin: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["epoch", "replay", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("flag", [[], ["--stateful"], ["--exact"], ["--exact", "--stateful"]])
def test_replay_writes_one_entry_per_epoch(monkeypatch, capsys, flag) -> None:
    text = vector_text(ZERO_WEIGHTS.name)
    scenario = json.loads(text)
    code, out, err = _run(monkeypatch, capsys, text, *flag)
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


def _scenario(hp: dict | None = None, top: dict | None = None, **epoch) -> str:
    """A valid 2-uid, one-epoch scenario with the given overrides (``None`` deletes a key)."""
    ep = {
        "weights": [[0, 65535], [0, 0]],
        "stake": [1000, 0],
        "last_update": [1, 1],
        "block_at_registration": [0, 0],
        "current_block": 2,
        "validator_permit": [True, False],
        **epoch,
    }
    doc = {"n": 2, "hyperparameters": hp or {}, "epochs": [ep], **(top or {})}
    for d in (doc, ep):
        for key in [k for k, v in d.items() if v is None]:
            del d[key]
    return json.dumps(doc)


def test_minimal_scenario_replays(monkeypatch, capsys) -> None:
    """The base of the malformed cases below is itself valid."""
    code, out, err = _run(monkeypatch, capsys, _scenario())
    assert code == 0, err
    assert json.loads(out)["epochs"][0]["dividends"] == [1.0, 0.0]


BIG = 2**70


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        # Each of these used to escape as error[internal] (TypeError, OverflowError, ValueError).
        (_scenario(commit_block=5), "epochs[0].commit_block must be a list of 2 ints"),
        (_scenario(commit_block=[2**64, 0]), "epochs[0].commit_block[0] must be <= "),
        (_scenario(current_block=BIG), "epochs[0].current_block must be <= 9223372036854775807"),
        (_scenario(last_update=[2**63, 0]), "epochs[0].last_update[0] must be <= "),
        (_scenario(block_at_registration=[0, 2**63]), "epochs[0].block_at_registration[1]"),
        (_scenario(last_mechanism_step_block=2**64), "epochs[0].last_mechanism_step_block"),
        (_scenario(bonds=[[BIG, 0], [0, 0]]), "epochs[0].bonds[0][0] must be <= 65535"),
        (_scenario(weights=[[0, BIG], [0, 0]]), "epochs[0].weights[0][1] must be <= 65535"),
        (_scenario(hp={"activity_cutoff": BIG}), "hyperparameters.activity_cutoff must be <="),
        (_scenario(hp={"stake_threshold": BIG}), "hyperparameters.stake_threshold must be <="),
        (_scenario(top={"n": 10**7}), "scenario.n must be <= 65535"),
        # Negative values, bools where ints belong, wrong lengths, non-square matrices.
        (_scenario(commit_block=[-2, 0]), "epochs[0].commit_block[0] must be >= -1, got -2"),
        (_scenario(block_at_registration=[-1, 0]), "epochs[0].block_at_registration[0]"),
        (_scenario(current_block=-1), "epochs[0].current_block must be >= 0"),
        (_scenario(rao_emission=-5), "epochs[0].rao_emission must be >= 0"),
        (_scenario(rao_emission=2**63 - 1), "epochs[0].rao_emission must be <= 9007199254740992"),
        (_scenario(hp={"rao_emission": -1}), "hyperparameters.rao_emission must be >= 0"),
        (_scenario(hp={"rao_emission": 1.5}), "hyperparameters.rao_emission must be an integer"),
        (_scenario(hp={"tempo": True}), "hyperparameters.tempo must be an integer, got True"),
        (_scenario(hp={"owner_uid": 2}), "hyperparameters.owner_uid 2 is out of range (n=2)"),
        (_scenario(current_block=True), "epochs[0].current_block must be an integer, got True"),
        (_scenario(last_update=[1, False]), "epochs[0].last_update[1] must be an integer"),
        (_scenario(weights=[[0, True], [0, 0]]), "epochs[0].weights[0][1] must be an integer"),
        (_scenario(weights=[[0, 1.0], [0, 0]]), "epochs[0].weights[0][1] must be an integer"),
        (_scenario(weights=[[0, -1], [0, 0]]), "epochs[0].weights[0][1] must be >= 0"),
        (_scenario(weights=[[0, 70000], [0, 0]]), "epochs[0].weights[0][1] must be <= 65535"),
        (_scenario(weights=[[0], [0, 0]]), "epochs[0].weights[0] must be a list of 2 ints"),
        (_scenario(weights=[[0, 0]]), "epochs[0].weights must be an 2×2 matrix"),
        (_scenario(weights="ab"), "epochs[0].weights must be an 2×2 matrix"),
        (_scenario(bonds=[[0, 0], [0, 0], [0, 0]]), "epochs[0].bonds must be an 2×2 matrix"),
        (_scenario(last_update=[1]), "epochs[0].last_update must be a list of 2 ints"),
        (_scenario(stake=[1000]), "epochs[0].stake must be a list of 2 numbers, got a list of 1"),
        (_scenario(stake=[1000, "5"]), "epochs[0].stake[1] must be a finite number"),
        (_scenario(stake=[1000, True]), "epochs[0].stake[1] must be a finite number"),
        (_scenario(stake=[1e300, 0]), "epochs[0].stake[0] must be a finite number"),
        (_scenario(validator_permit=[1, 0]), "epochs[0].validator_permit[0] must be true or"),
        (_scenario(validator_permit_override=1), "epochs[0].validator_permit_override"),
        (_scenario(clear_bond_rows=[True]), "epochs[0].clear_bond_rows[0] must be an integer"),
        (_scenario(clear_bond_cols=[2]), "epochs[0].clear_bond_cols uid 2 is out of range"),
        (_scenario(weights=None, weights_sparse=[[[1, 5, 0]], []]), "weights_sparse[0][0] must"),
        (_scenario(weights=None, weights_sparse=[[[True, 5]], []]), "weights_sparse[0][0][0]"),
        (_scenario(weights=None, weights_sparse=[[[1, 70000]], []]), "weights_sparse[0][0][1]"),
        (_scenario(weights=None, weights_sparse=[[], []], stake=None), "epochs[0].stake is miss"),
        (_scenario(top={"initial_state": {"bonds": [[0, -1], [0, 0]]}}), "initial_state.bonds"),
        (_scenario(top={"epochs": [5]}), "epochs[0] must be a JSON object"),
        (_scenario(top={"epochs": {}}), "scenario.epochs must be a list"),
        # A typo must not run with the default value.
        (_scenario(hp={"kapa": 1}), "hyperparameters.kapa is not a known hyperparameter"),
        (_scenario(hp={"Kappa": 1, "tempo": 1}), "hyperparameters.Kappa is not a known"),
    ],
)
def test_malformed_values_get_one_line_naming_the_field(
    monkeypatch, capsys, scenario: str, field: str
) -> None:
    code, out, err = _run(monkeypatch, capsys, scenario)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error[config]: "), lines[0]
    assert field in lines[0]
    assert code == 2
    assert out == ""


@pytest.mark.parametrize("token", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_stake_token_is_refused(monkeypatch, capsys, token: str) -> None:
    """Python's json accepts these non-standard tokens; the scenario parser must not."""
    scenario = _scenario(stake=[1000, 0]).replace("[1000, 0]", f"[1000, {token}]")
    code, out, err = _run(monkeypatch, capsys, scenario)
    assert code == 2
    assert err.startswith("error[config]: epochs[0].stake[1] must be a finite number"), err
    assert out == ""


def test_commit_block_masks_weights_committed_before_registration(monkeypatch, capsys) -> None:
    """A valid commit_block (-1 = none) reaches the epoch: uid 0 committed at block 0, before
    uid 1 registered at block 1, so its weight on uid 1 does not count."""
    common = {"block_at_registration": [0, 1], "last_update": [2, 2], "current_block": 3}
    incentive = []
    for commit in ([-1, -1], [0, -1]):
        code, out, err = _run(monkeypatch, capsys, _scenario(commit_block=commit, **common))
        assert code == 0, err
        incentive.append(json.loads(out)["epochs"][0]["incentive"])
    assert incentive == [[0.0, 1.0], [0.0, 0.0]]


def test_scenario_too_big_for_memory_is_one_line() -> None:
    """n = 65535 is a legal uid count, but its n×n matrices (34 GB each) do not fit in the
    16 GiB of address space this process gets (a fixed limit, so big machines fail alike)."""
    import resource

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))

    scenario = _scenario(
        top={"n": 65535},
        weights=None,
        weights_sparse=[[]] * 65535,
        stake=[0] * 65535,
        last_update=[0] * 65535,
        block_at_registration=[0] * 65535,
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "subnetkit"), "epoch", "replay"],
        input=scenario,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit_memory,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        "error[config]: scenario.n=65535 needs more memory than cpu has free "
        "(each epoch holds several n×n matrices)"
    )


def test_activity_cutoff_at_the_int64_limit_keeps_everyone_active(monkeypatch, capsys) -> None:
    code, out, err = _run(
        monkeypatch, capsys, _scenario(hp={"activity_cutoff": 2**63 - 1}, current_block=2**62)
    )
    assert code == 0, err
    assert json.loads(out)["epochs"][0]["active"] == [True, True]


def test_alpha_zero_replays_to_finite_strict_json(monkeypatch, capsys) -> None:
    """bonds_moving_average = 1_000_000 used to give NaN dividends and i64-min bonds."""
    doc = json.loads(vector_text("rust_test_bonds.json"))
    doc["hyperparameters"]["bonds_moving_average"] = 1_000_000
    code, out, err = _run(monkeypatch, capsys, json.dumps(doc), "--stateful")
    assert code == 0, err
    for epoch in json.loads(out, parse_constant=pytest.fail)["epochs"]:
        assert all(0 <= b <= 65535 for row in epoch["bonds"] for b in row)
        assert abs(sum(epoch["dividends"]) - 1.0) < 1e-9 or not any(epoch["dividends"])


def test_console_script_pipes_stdin_to_stdout() -> None:
    """The installed entry point, as a real process reading stdin."""
    exe = Path(sys.executable).parent / "subnetkit"
    proc = subprocess.run(
        [str(exe), "epoch", "replay", "--stateful"],
        input=vector_text(ZERO_WEIGHTS.name),
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


@pytest.mark.parametrize("stateful", [[], ["--stateful"]])
def test_exact_replay_prints_the_vectors_own_numbers(monkeypatch, capsys, stateful) -> None:
    """``--exact`` output equals a vector's expected values exactly, through JSON and back."""
    text = vector_text("rust_test_bonds.json")
    code, out, err = _run(monkeypatch, capsys, text, "--exact", *stateful)
    assert code == 0, err
    got = json.loads(out)["epochs"]
    for mine, want in zip(got, json.loads(text)["expected"], strict=True):
        assert {k: mine[k] for k in want} == want

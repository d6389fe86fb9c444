"""``subnetkit simulate``: behaviours, validator kinds, and the must-show command."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.simulate.behaviours import parse_counts, random_message
from subnetkit.simulate.runner import SimulationOptions, run_simulation, validator_counts
from subnetkit.subnets.embedding import embedding_pb2
from tests.helpers.browser import render


def test_counts_parse_and_refuse_in_one_line() -> None:
    known = ("good", "random", "noisy")
    assert [(c.name, c.count) for c in parse_counts("good=2, noisy=1,random=0", known, "--m")] == [
        ("good", 2),
        ("noisy", 1),
    ]
    for bad, words in (
        ("good", "NAME=COUNT"),
        ("evil=1", "unknown behaviour 'evil'"),
        ("good=1,good=2", "twice"),
        ("good=0", "lists nobody"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_counts(bad, known, "--m")
    assert validator_counts("3") == [("honest", 3)]
    with pytest.raises(ConfigError, match="lazy"):
        validator_counts("honest=1,sloppy=1")


def test_random_responses_are_well_formed_and_differ() -> None:
    rng = random.Random(1)
    cls = embedding_pb2.DESCRIPTOR.message_types_by_name
    for name in cls:
        message_cls = getattr(embedding_pb2, name)
        a, b = random_message(message_cls, rng), random_message(message_cls, rng)
        assert message_cls.FromString(a.SerializeToString()) == a
        if a.DESCRIPTOR.fields:
            assert a != b


async def test_every_behaviour_and_validator_kind_in_one_network() -> None:
    options = SimulationOptions(
        subnet="echo",
        miners="good=3,random=2,offline=1,slow=1,intermittent=1,multi=2",
        validators="honest=2,lazy=1,random=1",
        epochs=2,
        trusted=True,
        timeout=1.0,
    )
    seen: list[int] = []
    doc = await run_simulation(options, on_epoch=lambda f: seen.append(f["epoch"]))
    assert seen == [1, 2] and doc["epochs"] == 2 and doc["trusted"] is True
    last = doc["per_epoch"][-1]
    assert all(e["weights_refused"] == [] for e in doc["per_epoch"])
    assert [e["weights_set"] for e in doc["per_epoch"]] == [3, 4]  # lazy waits for a consensus
    incentive = {k: v["incentive"] for k, v in last["miners"].items()}
    assert incentive["random"]["max"] == incentive["offline"]["max"] == 0.0
    for paid in ("good", "slow", "intermittent", "multi"):
        assert incentive[paid]["min"] > 0.0, paid
    assert incentive["good"]["mean"] > incentive["slow"]["mean"]  # echo pays for speed
    dividends = {k: v["dividends"]["mean"] for k, v in last["validators"].items()}
    assert dividends["honest"] > dividends["random"]
    assert len(doc["final"]["miners"]) == 10 and len(doc["final"]["validators"]) == 4


@pytest.mark.slow
def test_must_show_good_miners_all_above_random_ones_and_the_report_draws(
    tmp_path: Path,
) -> None:
    report = tmp_path / "sim.html"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "subnetkit"),
            "simulate",
            "--subnet",
            "echo",
            "--miners",
            "good=8,random=8",
            "--validators",
            "2",
            "--epochs",
            "3",
            "--format",
            "json",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["schema"] == "subnetkit.simulate/v1" and doc["epochs"] == 3
    good = [m["incentive"] for m in doc["final"]["miners"] if m["behaviour"] == "good"]
    bad = [m["incentive"] for m in doc["final"]["miners"] if m["behaviour"] == "random"]
    assert len(good) == len(bad) == 8
    assert min(good) > max(bad)
    shown = render(report, tmp_path / "profile")
    assert shown.console == []
    assert shown.elements_with_class("js-plotly-plot") == 4
    assert shown.elements_with_class("main-svg") >= 8

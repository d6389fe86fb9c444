"""``subnetkit loadtest`` as a user runs it: the console script, JSON, thresholds, the report
opened in real headless Chromium."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from subnetkit.cli import main
from tests.helpers.browser import render

BASE = ["--swarm", "8", "--subnet", "echo", "--rate", "100", "--duration", "1"]


def loadtest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "subnetkit"), "loadtest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


@pytest.mark.slow
def test_json_thresholds_and_a_report_that_draws_offline(tmp_path: Path) -> None:
    report = tmp_path / "out.html"
    checks = ["--threshold", "p99<30s", "--threshold", "rps>100000"]
    output = ["--format", "json", "--report", str(report)]
    done = loadtest(*BASE, "--backend", "inprocess", *output, *checks, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # one threshold failed, and it is named
    assert done.stderr.strip().splitlines()[-1] == "thresholds failed: rps>100000"
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["schema"] == "subnetkit.loadtest/v1" and summary["backend"] == "inprocess"
    assert summary["completed"] == 100 and summary["errors"] == 0
    assert set(summary["latency_us"]) >= {"p50", "p90", "p99", "p99_9", "max"}
    assert summary["harness"]["cpu_us_per_request"] > 0
    assert [t["ok"] for t in summary["thresholds"]] == [True, False]

    page = report.read_text()
    assert not re.search(r"<script[^>]+src=", page), "the report must not load scripts"
    shown = render(report, tmp_path / "profile")
    assert shown.console == []
    assert shown.elements_with_class("js-plotly-plot") == 4
    assert shown.elements_with_class("main-svg") >= 4 * 2  # every chart drew its SVG layers
    assert shown.elements_with_class("scatterlayer") >= 3 and shown.elements_with_class("bars")
    assert "Latency over time" in shown.dom and "Outcomes by gRPC status" in shown.dom


@pytest.mark.slow
def test_processes_backend_over_loopback(tmp_path: Path) -> None:
    done = loadtest(*BASE, "--backend", "processes", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["backend"] == "processes" and summary["targets"] == 8
    assert summary["completed"] == 100 and summary["errors"] == 0
    assert summary["harness"]["includes_miners"] is False


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--swarm", "2", "--subnet", "echo", "--concurrency", "2", "--rate", "3"], "exclude"),
        (["--swarm", "2", "--subnet", "echo", "--threshold", "p99<fast"], "METRIC OP VALUE"),
        (["--swarm", "2", "--subnet", "nope"], "unknown subnet"),
        (["--subnet", "echo"], "say which miners"),
        (["--target", "nohost", "--subnet", "echo"], "HOTKEY@HOST:PORT"),
        (["--swarm", "2", "--subnet", "echo", "--backend", "nope"], "processes or ray"),
        (["--swarm", "2", "--subnet", "echo", "--backend", "ray", "--workers", "2"], "--ray-hosts"),
        (
            ["--swarm", "2", "--subnet", "echo", "--backend", "ray", "--ray-address", "x"],
            "HOST:PORT",
        ),
        (
            [
                "--swarm",
                "2",
                "--subnet",
                "echo",
                "--backend",
                "ray",
                "--ray-address",
                "127.0.0.1:1",
            ],
            "no Ray cluster answers",
        ),
    ],
)
def test_bad_flags_are_one_line(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(["loadtest", *args, "--duration", "0.2"])
    finally:
        asyncio.set_event_loop_policy(None)  # the CLI installs uvloop's; later tests use asyncio
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err, err

"""``--backend ray`` on real Ray clusters: a two-node one on 127.0.0.1 that the CLI joins, and a
local one that the CLI starts itself. Each run is a real process, as a user runs it; afterwards
no process it started may be left (every one carries a marker in its environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subnetkit.raybackend.session import is_loopback
from subnetkit.testing.ray_cluster import MARKER, marked_processes

pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
SUBNETKIT = str(Path(sys.executable).parent / "subnetkit")


def marked_env(mark: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, MARKER: mark}


def run_cli(args: list[str], mark: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [SUBNETKIT, *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=marked_env(mark),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def assert_none_left(mark: str) -> None:
    """Every process of the run is gone (bounded wait: Ray's reapers take a moment)."""
    deadline = time.monotonic() + 30
    while (left := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == [], "Ray processes outlived the run:\n" + "\n".join(left)


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(address, marker) of a two-node cluster with 2 logical CPUs per node; after the test
    the cluster is taken down and no process of it may be left."""
    mark = uuid.uuid4().hex
    holder = subprocess.Popen(
        [sys.executable, "-m", "subnetkit.testing.ray_cluster", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=marked_env(mark),
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()  # bounded by the test's timeout
        assert line, f"the cluster holder exited ({holder.wait()}) before the cluster was up"
        yield json.loads(line)["address"], mark
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        try:
            holder.wait(120)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
    assert holder.returncode == 0
    assert_none_left(mark)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_swarm_across_two_nodes_with_a_generator_on_each(
    two_nodes: tuple[str, str], tmp_path: Path
) -> None:
    address, mark = two_nodes
    args = ["--swarm", "8", "--subnet", "echo", "--backend", "ray", "--ray-address", address]
    spread = ["--ray-hosts", "2", "--ray-strategy", "STRICT_SPREAD"]
    summary = run_cli(
        ["loadtest", *args, *spread, "--rate", "60", "--duration", "1"], mark, tmp_path
    )
    assert summary["backend"] == "ray" and summary["targets"] == 8
    assert summary["completed"] == 60 and summary["errors"] == 0, summary["error_examples"]
    ray = summary["ray"]
    assert ray["started_local"] is False and ray["address"] == address
    nodes = ray["nodes"]
    assert len({n["node_id"] for n in nodes}) == 2, nodes  # miners ran on both nodes
    assert [n["miners"] for n in nodes] == [4, 4]
    assert all(is_loopback(n["ip"]) for n in nodes)
    assert {g["node_id"] for g in ray["generators"]} == {n["node_id"] for n in nodes}
    assert summary["workers"] == 2  # one generator per host; their histograms merged
    assert sum(b["ok"] for b in summary["timeline"]) == 60
    for host in ray["hosts"]:
        assert host["miners"] == 4 and host["rss_mib"] > 0 and host["cpu_s"] > 0


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_local_cluster_on_loopback_for_a_simulation(tmp_path: Path) -> None:
    """Without --ray-address the CLI starts its own cluster on 127.0.0.1 and stops all of it;
    the simulation's miners there are paid as the in-process ones are."""
    mark = uuid.uuid4().hex
    args = ["simulate", "--subnet", "echo", "--miners", "good=3,random=3,offline=1"]
    doc = run_cli([*args, "--epochs", "2", "--backend", "ray"], mark, tmp_path)
    assert doc["ray"]["started_local"] is True
    assert is_loopback(doc["ray"]["address"].rpartition(":")[0])
    assert [n["miners"] for n in doc["ray"]["nodes"]] == [7]
    final = doc["final"]["miners"]
    good = [m["incentive"] for m in final if m["behaviour"] == "good"]
    others = [m["incentive"] for m in final if m["behaviour"] != "good"]
    assert min(good) > max(others), final
    assert_none_left(mark)


async def test_options_that_cannot_work_on_ray_are_refused_before_anything_starts() -> None:
    from subnetkit.core.errors import ConfigError
    from subnetkit.simulate.runner import SimulationOptions, run_simulation

    for options, words in (
        (SimulationOptions("echo", "good=1", backend="ray", trusted=True), "--trusted"),
        (SimulationOptions("echo", "good=1", backend="threads"), "inprocess or ray"),
        (SimulationOptions("echo", "good=1", backend="ray", ray_address="x"), "HOST:PORT"),
    ):
        with pytest.raises(ConfigError, match=words):
            await run_simulation(options)

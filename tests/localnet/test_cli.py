"""``subnetkit localnet up`` as a real process: the JSON summary, and Ctrl-C leaving nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from subnetkit.localnet.supervisor import _pid_exists

CLI = Path(sys.executable).parent / "subnetkit"


async def _run(*args: str, timeout: float) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "localnet",
        "up",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return int(proc.returncode or 0), out.decode(), err.decode()


def _ready_names(path: Path) -> tuple[set[str], dict[str, dict]]:
    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return set(), {}
    return {n for n, p in pids.items() if p["ready"]}, pids


async def _wait_pids(path: Path, names: set[str], timeout: float) -> dict[str, dict]:
    async with asyncio.timeout(timeout):
        while True:
            ready, pids = _ready_names(path)
            if names <= ready:
                return pids
            await asyncio.sleep(0.1)


async def _wait_until_up(proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    """Read localnet's stderr until it reports the whole network up (bounded)."""
    assert proc.stderr is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await proc.stderr.readline()).decode()
            assert line, "localnet exited before it was up"
            if "all neurons up" in line:
                return


@pytest.mark.slow
async def test_chain_only_network_counts_epochs_and_prints_one_json_object(tmp_path: Path) -> None:
    data = tmp_path / "net"
    rc, out, err = await _run(
        "--subnet",
        "echo",
        "--miners",
        "0",
        "--validators",
        "0",
        "--epochs",
        "2",
        "--tempo",
        "3",
        "--format",
        "json",
        "--data-dir",
        str(data),
        timeout=60,
    )
    assert rc == 0, err
    summary = json.loads(out)  # exactly one JSON document on stdout
    assert summary["netuid"] == 1 and summary["epochs"] == 2 and not summary["interrupted"]
    assert summary["blocks"] - summary["first_block"] >= 4  # at least one full tempo + 1
    assert summary["owner_emission"] > 0  # the owner cut was paid as stake
    assert "epoch 2/2" in err
    pids = json.loads((data / "run" / "pids.json").read_text())
    assert set(pids) == {"chain"} and not pids["chain"]["alive"]
    assert not _pid_exists(pids["chain"]["pid"])


async def test_non_empty_data_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("keep me")
    rc, out, err = await _run("--data-dir", str(tmp_path), timeout=30)
    assert rc == 8 and out == ""
    assert err.startswith("error[localnet]: data dir") and err.count("\n") == 1
    assert (tmp_path / "old.txt").read_text() == "keep me"


async def test_bad_flags_are_one_line_config_errors() -> None:
    rc, _, err = await _run("--block-time", "soon", timeout=30)
    assert rc == 2 and err.startswith("error[config]: block time 'soon'")
    rc, _, err = await _run("--format", "yaml", timeout=30)
    assert rc == 2 and "--format" in err


@pytest.mark.slow
async def test_echo_network_pays_its_miners_and_validator(tmp_path: Path) -> None:
    data = tmp_path / "net"
    rc, out, err = await _run(
        "--subnet",
        "echo",
        "--miners",
        "2",
        "--validators",
        "1",
        "--epochs",
        "2",
        "--tempo",
        "10",
        "--format",
        "json",
        "--data-dir",
        str(data),
        timeout=110,
    )
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["epochs"] == 2 and summary["commit_reveal"] is True
    neurons = {n["name"]: n for n in summary["neurons"]}
    assert [(n["name"], n["uid"]) for n in summary["neurons"]] == [
        ("validator-0", 1),
        ("miner-0", 2),
        ("miner-1", 3),
    ]
    # commit-reveal: weights committed in the first counted epoch count in the second
    for name in ("miner-0", "miner-1"):
        assert neurons[name]["incentive"] > 0.3 and neurons[name]["emission"] > 0, neurons[name]
    assert neurons["validator-0"]["dividends"] > 0.99 and neurons["validator-0"]["validator_permit"]
    assert summary["owner_emission"] > 0
    pids = json.loads((data / "run" / "pids.json").read_text())
    assert set(pids) == {"chain", "validator-0", "miner-0", "miner-1"}
    assert not any(_pid_exists(p["pid"]) for p in pids.values())


@pytest.mark.slow
async def test_echo_network_over_mutual_tls_pays_its_miners(tmp_path: Path) -> None:
    """``--tls``: each miner admits only the validator's hotkey-bound certificate (fetched from
    the identity endpoint it announces on chain), and the validator queries them in session
    mode, on session streams; the miners are still paid, in separate processes."""
    data = tmp_path / "net"
    rc, out, err = await _run(
        "--subnet",
        "echo",
        "--miners",
        "2",
        "--validators",
        "1",
        "--epochs",
        "3",
        "--tempo",
        "10",
        "--tls",
        "--format",
        "json",
        "--data-dir",
        str(data),
        timeout=110,
    )
    assert rc == 0, err
    summary = json.loads(out)
    neurons = {n["name"]: n for n in summary["neurons"]}
    for name in ("miner-0", "miner-1"):
        assert neurons[name]["incentive"] > 0.3 and neurons[name]["emission"] > 0, neurons[name]
    assert neurons["validator-0"]["dividends"] > 0.99
    assert "Traceback" not in err


@pytest.mark.slow
async def test_a_neuron_that_dies_stops_the_network_with_its_last_lines(tmp_path: Path) -> None:
    data = tmp_path / "net"
    rc, out, err = await _run(
        "--subnet",
        "echo",
        "--miners",
        "1",
        "--validators",
        "0",
        "--epochs",
        "1",
        "--miner-set",
        "miner.max_concurrency=0",
        "--data-dir",
        str(data),
        timeout=60,
    )
    assert rc == 8 and out == ""
    assert "error[child_died]: miner-0 exited with code 2" in err
    assert "max_concurrency" in err  # the miner's own one-line error, shown to the user
    pids = json.loads((data / "run" / "pids.json").read_text())
    assert not any(_pid_exists(p["pid"]) for p in pids.values())
    assert (data / "logs" / "miner-0.log").exists()  # kept for reading


@pytest.mark.slow
async def test_sigint_stops_every_neuron_and_the_chain(tmp_path: Path) -> None:
    data = tmp_path / "net"
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "localnet",
        "up",
        "--subnet",
        "echo",
        "--miners",
        "2",
        "--validators",
        "1",
        "--data-dir",
        str(data),
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    names = {"chain", "validator-0", "miner-0", "miner-1"}
    try:
        pids = await _wait_pids(data / "run" / "pids.json", names, timeout=90)
        assert all(_pid_exists(p["pid"]) for p in pids.values())
        # Ready children are not yet a running network: the runner still reads the head and
        # the metagraph. Interrupt once it says it is up (before that, exit 130 is correct).
        await _wait_until_up(proc)
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["interrupted"] is True
    survivors = [n for n, p in pids.items() if _pid_exists(p["pid"])]
    assert survivors == []
    assert "Traceback" not in err.decode()


@pytest.mark.slow
async def test_sigterm_while_running_exits_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "net"
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "localnet",
        "up",
        "--subnet",
        "echo",
        "--miners",
        "0",
        "--validators",
        "0",
        "--data-dir",
        str(data),
        "--format",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_until_up(proc)
        chain_pid = json.loads((data / "run" / "pids.json").read_text())["chain"]["pid"]
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["interrupted"] is True
    assert not _pid_exists(chain_pid)


def _spawned(path: Path) -> dict[str, dict]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


@pytest.mark.slow
async def test_sigint_during_start_up_stops_what_was_started_and_exits_130(tmp_path: Path) -> None:
    data = tmp_path / "net"
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "localnet",
        "up",
        "--subnet",
        "echo",
        "--miners",
        "2",
        "--validators",
        "1",
        "--data-dir",
        str(data),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            while True:
                pids = _spawned(data / "run" / "pids.json")
                if "miner-0" in pids:
                    break
                await asyncio.sleep(0.05)
        assert "validator-0" not in pids  # validators start only after every miner serves
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, err.decode()
    assert "error[interrupted]: SIGINT received before the network was up" in err.decode()
    pids = _spawned(data / "run" / "pids.json")
    assert {"chain", "miner-0", "miner-1"} <= set(pids)
    assert not any(_pid_exists(p["pid"]) for p in pids.values())

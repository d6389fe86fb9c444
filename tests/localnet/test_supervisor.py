"""The process supervisor: ready files, early death with the child's last words, and stopping
that leaves nothing behind even when a child ignores SIGTERM or forks helpers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from subnetkit.localnet.runner import chain_argv
from subnetkit.localnet.supervisor import ChildDied, LocalnetError, Supervisor, _pid_exists

PY = sys.executable

# A child that writes its ready file, forks a grandchild in its own group, and ignores SIGTERM.
STUBBORN = r"""
import json, os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
path = sys.argv[sys.argv.index("--ready-file") + 1]
with open(path + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "helper": helper.pid}, f)
os.replace(path + ".tmp", path)
time.sleep(600)
"""


async def test_chain_child_becomes_ready_and_stops_cleanly(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, grace=10)
    chain = await sup.spawn("chain", chain_argv(tmp_path, 0.25))
    try:
        ready = await sup.wait_ready(chain, timeout=60)
        assert ready["port"] > 0 and ready["pid"] == chain.pid
        pids = json.loads((tmp_path / "run" / "pids.json").read_text())
        assert pids["chain"] == {"pid": chain.pid, "alive": True, "ready": True}
    finally:
        await sup.stop()
    assert chain.returncode == 0, chain.stderr_tail()
    assert not _pid_exists(chain.pid)


async def test_a_child_that_dies_early_is_reported_with_its_last_lines(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    code = "import sys; print('loading model...', file=sys.stderr); sys.exit('model file missing')"
    child = await sup.spawn("miner-bad", [PY, "-c", code])
    try:
        with pytest.raises(ChildDied) as caught:
            await sup.wait_ready(child, timeout=30)
    finally:
        await sup.stop()
    message = caught.value.message
    assert message.startswith("miner-bad exited with code 1")
    assert "loading model..." in message and "model file missing" in message
    assert caught.value.exit_code == 8


async def test_watch_raises_when_a_running_child_exits(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    await sup.spawn("sleeper", [PY, "-c", "import time; time.sleep(600)"], ready_file=False)
    quitter = await sup.spawn("quitter", [PY, "-c", "raise SystemExit(3)"], ready_file=False)
    try:
        async with asyncio.timeout(30):
            with pytest.raises(ChildDied) as caught:
                await sup.watch()
    finally:
        await sup.stop()
    assert caught.value.child is quitter and quitter.returncode == 3


async def test_ready_timeout_is_a_clear_error(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    child = await sup.spawn("slow", [PY, "-c", "import time; time.sleep(600)"])
    try:
        with pytest.raises(LocalnetError, match="slow was not ready within 0s"):
            await sup.wait_ready(child, timeout=0.3)
    finally:
        await sup.stop()


async def test_stop_kills_a_child_ignoring_sigterm_and_its_forked_helper(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, grace=1.0)
    child = await sup.spawn("stubborn", [PY, "-c", STUBBORN])
    ready = await sup.wait_ready(child, timeout=30)
    helper = int(ready["helper"])
    assert _pid_exists(helper)
    await sup.stop()
    assert child.returncode == -9
    async with asyncio.timeout(10):  # the helper is not our child: wait for init to reap it
        while True:
            if not _pid_exists(helper):
                break
            await asyncio.sleep(0.05)


async def test_kill_all_now_is_the_synchronous_last_resort(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, grace=1.0)
    child = await sup.spawn("stubborn", [PY, "-c", STUBBORN])
    await sup.wait_ready(child, timeout=30)
    assert os.getpgid(child.pid) == child.pid != os.getpgid(os.getpid())  # its own group
    sup.kill_all_now()  # what atexit runs
    async with asyncio.timeout(10):
        await child.proc.wait()
    assert child.returncode == -9


# A supervisor in its own process that starts one long-lived child and reports its pid.
SUPERVISOR = r"""
import asyncio, sys
from pathlib import Path
from subnetkit.localnet.supervisor import Supervisor

async def main():
    sup = Supervisor(Path(sys.argv[1]))
    child = await sup.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"],
                            ready_file=False)
    print(child.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_children_die_with_a_supervisor_killed_by_sigkill(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [PY, "-c", SUPERVISOR, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        child_pid = int(proc.stdout.readline())
        assert _pid_exists(child_pid)
    finally:
        proc.kill()  # SIGKILL: no atexit, no signal handler runs in the supervisor
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _pid_exists(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a pid that is not ours to wait on
    assert not _pid_exists(child_pid), "the child outlived its SIGKILLed supervisor"

"""``subnetkit chain start`` as a real process when it cannot start: one line naming what to
change, a non-zero exit, and the process ends by itself (nothing left running keeps it alive)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from subnetkit.chain.service import ChainService
from subnetkit.chain.store import ChainStore
from subnetkit.cli import main
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import dev_signer
from subnetkit.testing import running_chain

#: a failing start must be over well within this (a hang used to run until killed)
EXIT_WITHIN = 30.0


def _start(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBNETKIT_")}
    code = prelude + "import sys; from subnetkit.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", code, "--log-level", "WARNING", "chain", "start", *args]
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=EXIT_WITHIN, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"chain start did not exit within {EXIT_WITHIN}s; stderr: {exc.stderr!r}")


def _one_error_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error[{code}]: "), done.stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_port_in_use_is_one_line_and_the_process_exits(tmp_path: Path, taken_port: int) -> None:
    done = _start("--dev", "--port", str(taken_port), "--data-dir", str(tmp_path / "chain"))
    line = _one_error_line(done, "config")
    assert str(taken_port) in line and "--port" in line
    assert done.returncode == 2


def test_corrupt_state_is_one_line_and_the_process_exits(tmp_path: Path) -> None:
    data = tmp_path / "chain"

    async def tamper() -> None:
        async with running_chain(data) as chain:
            await chain.client.transfer(chain.alice, chain.bob.ss58, 1)
        store = ChainStore(data)
        await store.open()
        alice = f"acct/{dev_signer('alice').ss58}"
        await store.db.execute("UPDATE state SET value = ? WHERE key = ?", (b"[1,0]", alice))
        await store.close()

    asyncio.run(tamper())
    done = _start("--dev", "--port", "0", "--data-dir", str(data))
    line = _one_error_line(done, "state_corrupt")
    assert "restore the data dir" in line


def test_a_data_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("not a directory")
    done = _start("--dev", "--port", "0", "--data-dir", str(occupied))
    line = _one_error_line(done, "config")
    assert str(occupied) in line and "--data-dir" in line
    assert occupied.read_text() == "not a directory"


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_port_out_of_range_is_refused_before_anything_starts(
    tmp_path: Path, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "chain"
    code = main(["chain", "start", "--dev", "--port", port, "--data-dir", str(data)])
    assert code == 2
    assert "--port" in capsys.readouterr().err
    assert not data.exists()


def test_service_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="65535"):
        ChainService(tmp_path / "chain", port=70000)


def test_a_data_dir_under_a_file_is_a_config_error_in_process(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    async def start() -> None:
        async with ChainService(tmp_path / "file" / "chain", manual=True):
            pass

    with pytest.raises(ConfigError, match="Not a directory"):
        asyncio.run(start())


#: makes the epoch code fail to import in the child, as a half-saved source file would
BROKEN_EPOCH_IMPORT = """
import importlib.abc, sys
class Broken(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "subnetkit.chain.transition.epoch_io":
            raise ImportError("subnetkit.chain.transition.epoch_io cannot be imported (simulated)")
sys.meta_path.insert(0, Broken())
"""


def test_code_that_cannot_be_imported_fails_the_start_not_a_ready_chain(tmp_path: Path) -> None:
    """The epoch code used to be imported in the background after the chain said it was ready;
    an import error there stopped the ready chain (exit 1) and its clients saw only deadline
    errors. It is part of starting now: no ready file, one line, non-zero exit."""
    ready = tmp_path / "ready.json"
    done = _start(
        "--dev",
        "--manual",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "chain"),
        "--ready-file",
        str(ready),
        prelude=BROKEN_EPOCH_IMPORT,
    )
    line = _one_error_line(done, "internal")
    assert "subnetkit.chain.transition.epoch_io cannot be imported" in line
    assert not ready.exists(), "the chain said it was ready, then stopped"

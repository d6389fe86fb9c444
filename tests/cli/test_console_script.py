"""The installed ``subnetkit`` console script as a real process: what a user's shell sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from subnetkit.core.keys import Signer
from tests.cli.conftest import ThreadedChain

SCRIPT = Path(sys.executable).parent / "subnetkit"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBNETKIT_")}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_console_script_refusal_is_one_line_and_exit_code(chain: ThreadedChain) -> None:
    assert SCRIPT.is_file(), f"console script missing at {SCRIPT}"
    endpoint = ["--chain-endpoint", chain.address]
    dest = Signer.generate().ss58
    ok = _run(
        "transfer",
        "--dest",
        dest,
        "--amount",
        "0.25",
        "--uri",
        "//Ferdie",
        "--format",
        "json",
        *endpoint,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["amount_rao"] == 250_000_000

    refused = _run(
        "transfer",
        "--dest",
        Signer.generate().ss58,
        "--amount",
        "1",
        "--uri",
        "//cli-poor-proc",
        *endpoint,
    )
    assert refused.returncode == 5
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error[cannot_pay]: "), refused.stderr
    assert "Traceback" not in refused.stderr


def test_console_script_unreachable_chain(tmp_path: Path) -> None:
    result = _run("metagraph", "1", "--chain-endpoint", "127.0.0.1:1", "--timeout", "0.5")
    assert result.returncode == 7
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error[chain_unavailable]: "), result.stderr
    assert "Traceback" not in result.stderr

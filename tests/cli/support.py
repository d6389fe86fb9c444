"""Helpers the chain-command tests share: read one JSON line, one error line, make a subnet."""

from __future__ import annotations

import json

from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, Result

TAO = 1_000_000_000


def one_json(result: Result) -> dict:
    """The command succeeded and printed exactly one JSON line: that document."""
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert len(lines) == 1, result.out
    return json.loads(lines[0])


def one_error_line(result: Result, code: str, exit_code: int) -> str:
    """The command failed with ``exit_code`` and one ``error[code]:`` line, no traceback."""
    assert result.code == exit_code, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"error[{code}]: "), lines[0]
    assert "Traceback" not in result.err
    return lines[0]


def new_subnet(cli: Cli, uri: str = "//Alice") -> int:
    """A fresh subnet owned by ``uri``'s coldkey, with a throwaway owner hotkey."""
    doc = one_json(
        cli(
            "subnet", "create", "--hotkey", Signer.generate().ss58, "--uri", uri, "--format", "json"
        )
    )
    return int(doc["netuid"])

"""``subnetkit proto compile`` as a user runs it: from inside the package it refuses, one line.

protoc writes imports by the path it is given, so a ``.proto`` compiled from inside its own
package produces ``import thing_pb2`` where Python needs ``import pkg.thing_pb2``: the command
used to write that code and say it succeeded. Real processes, a real package in a temp dir.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "subnetkit"

PROTO = """syntax = "proto3";
package pkg.v1;
message Ping { string text = 1; }
service Pinger { rpc Send(Ping) returns (Ping); }
"""


def _package(root: Path) -> Path:
    package = root / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "thing.proto").write_text(PROTO)
    return package


def _compile(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "proto", "compile", *args, "--no-stubs"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_compiling_from_inside_the_package_is_refused_in_one_line(tmp_path: Path) -> None:
    package = _package(tmp_path)
    refused = _compile(package, "thing.proto")
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "pkg.thing_pb2" in lines[0] and f"--root {tmp_path}" in lines[0], lines[0]
    assert "Traceback" not in refused.stderr
    assert not list(package.glob("*_pb2*.py")), "refused, yet it wrote code"


def test_compiling_from_the_package_root_writes_importable_code(tmp_path: Path) -> None:
    _package(tmp_path)
    done = _compile(tmp_path, "pkg")
    assert done.returncode == 0, done.stderr
    imported = subprocess.run(
        [sys.executable, "-c", "import pkg.thing_pb2_grpc as g; print(g.PingerStub.__name__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "PingerStub"

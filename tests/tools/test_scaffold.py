"""``subnetkit subnet new``: the scaffold passes its own test at once; bad names: one line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.tools.scaffold import camel, check_name, scaffold_subnet

CLI = Path(sys.executable).parent / "subnetkit"


async def _run(*argv: str, cwd: Path, timeout: float) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return int(proc.returncode or 0), out.decode(), err.decode()


@pytest.mark.slow
async def test_scaffolded_subnet_passes_its_own_test(tmp_path: Path) -> None:
    rc, out, err = await _run(
        str(CLI),
        "subnet",
        "new",
        "word_flip",
        "--dir",
        str(tmp_path),
        "--format",
        "json",
        cwd=tmp_path,
        timeout=60,
    )
    assert rc == 0, err
    doc = json.loads(out)
    package = tmp_path / "word_flip"
    assert doc["path"] == str(package)
    for name in (
        "__init__.py",
        "word_flip.proto",
        "miner.py",
        "validator.py",
        "scorer.py",
        "test_word_flip.py",
        "README.md",
        "word_flip_pb2.py",
        "word_flip_pb2_grpc.py",
        "word_flip_pb2.pyi",
    ):
        assert (package / name).is_file(), name
    assert "class WordFlipMiner(Miner)" in (package / "miner.py").read_text()
    # the generated gRPC module imports its messages by the package path
    assert "from word_flip import word_flip_pb2" in (package / "word_flip_pb2_grpc.py").read_text()
    rc, out, err = await _run(
        sys.executable,
        "-m",
        "pytest",
        "word_flip",
        "-q",
        "-p",
        "no:cacheprovider",
        cwd=tmp_path,
        timeout=110,
    )
    assert rc == 0, out + err
    assert "3 passed" in out


@pytest.mark.parametrize("bad", ["Bad-Name", "9lives", "class", "miner", "torch", "a" * 41, ""])
def test_invalid_names_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid subnet name"):
        scaffold_subnet(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_cli_reports_an_invalid_name_in_one_line(tmp_path: Path) -> None:
    rc, out, err = await _run(str(CLI), "subnet", "new", "My-Subnet", cwd=tmp_path, timeout=30)
    assert rc == 2 and out == ""
    assert err.startswith("error[config]: invalid subnet name 'My-Subnet'")
    assert err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_an_existing_package_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "miner.py").write_text("# my work")
    with pytest.raises(ConfigError, match="already exists"):
        scaffold_subnet("mine", tmp_path, compile_proto=False)
    assert (tmp_path / "mine" / "miner.py").read_text() == "# my work"


def test_names_become_class_names() -> None:
    assert camel("word_flip") == "WordFlip" and camel("sn42") == "Sn42"
    assert check_name("word_flip") == "word_flip"


def test_the_generated_test_uses_subnetkit_testing_and_the_short_api(tmp_path: Path) -> None:
    scaffold_subnet("short", tmp_path, compile_proto=False)
    package = tmp_path / "short"
    test = (package / "test_short.py").read_text()
    assert "from subnetkit.testing import MinerTestEnv" in test and "MinerServer" not in test
    code = (package / "miner.py").read_text() + (package / "validator.py").read_text()
    assert "DESCRIPTOR" not in code and '(short_pb2, "Short.Solve")' in code

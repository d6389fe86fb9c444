"""The wheel installs one top-level package, ``subnetkit``, and imports like the editable install.

A subnet developer keeps ``miner.py`` and ``validator.py`` beside their code; had the wheel
installed top-level ``miner``/``validator``/``chain``/``protos`` packages, those files would
shadow ours (or ours theirs). These tests install the real wheel into a fresh venv and look.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.packaging.conftest import DEPS_PTH, REPO, WheelVenv

#: imports each package named on stdin (one a line) and prints, as JSON, the sorted names of
#: those packages and the modules in them. It walks each package's own ``__path__``: under the
#: editable install ``subnetkit.__path__`` holds only ``subnetkit/`` (mapped folders such as
#: ``miner/`` are found by setuptools' finder, not through the parent's path), so a walk from
#: ``subnetkit`` alone would see less there than the wheel holds.
LIST_MODULES = """
import importlib, json, pkgutil, sys
names = set()
for package in sys.stdin.read().split():
    module = importlib.import_module(package)
    names.add(package)
    names.update(info.name for info in pkgutil.iter_modules(module.__path__, package + "."))
print(json.dumps(sorted(names)))
"""


def _python(
    python: Path, code: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-c", code],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def _listed_packages() -> list[str]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        packages = tomllib.load(handle)["tool"]["setuptools"]["packages"]
    return [str(name) for name in packages]


def test_only_subnetkit_lands_in_site_packages(wheel_venv: WheelVenv) -> None:
    installed = {p.name for p in wheel_venv.site_packages.iterdir()} - {DEPS_PTH, "__pycache__"}
    assert installed == {"subnetkit", "subnetkit-0.1.0.dist-info"}
    assert wheel_venv.cli.exists()


def test_the_neuron_packages_import_under_subnetkit_only(
    wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    ok = _python(
        wheel_venv.python,
        "import subnetkit.miner, subnetkit.validator, subnetkit.chain; print(subnetkit.__file__)",
        tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()).is_relative_to(wheel_venv.site_packages)
    for bare in ("miner", "validator", "chain", "protos", "subnets"):
        missing = _python(wheel_venv.python, f"import {bare}", tmp_path)
        assert missing.returncode != 0, f"'import {bare}' worked in a venv with only the wheel"
        assert f"No module named '{bare}'" in missing.stderr


def test_wheel_and_editable_install_expose_the_same_modules(
    wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    packages = "\n".join(_listed_packages())
    from_wheel = _python(wheel_venv.python, LIST_MODULES, tmp_path, packages)
    editable = _python(Path(sys.executable), LIST_MODULES, tmp_path, packages)
    assert from_wheel.returncode == 0, from_wheel.stderr
    assert editable.returncode == 0, editable.stderr
    wheel_names, editable_names = json.loads(from_wheel.stdout), json.loads(editable.stdout)
    assert "subnetkit.miner.base" in wheel_names  # the walk really went below the packages
    assert set(wheel_names) == set(editable_names), {
        "only in the wheel": sorted(set(wheel_names) - set(editable_names)),
        "only editable": sorted(set(editable_names) - set(wheel_names)),
    }


#: the echo subnet, one neuron each, short epochs: the localnet run costs seconds, not a minute
CHEAP_NET = ("--subnet", "echo", "--miners", "1", "--validators", "1", "--tempo", "5")


def _user_folder(root: Path) -> Path:
    """A subnet developer's folder: files named like subnetkit's old top-level packages."""
    folder = root / "my_subnet_dev"
    folder.mkdir()
    for name in ("miner", "validator", "chain", "protos"):
        (folder / f"{name}.py").write_text(f'raise ImportError("the user\'s own {name}.py")\n')
    return folder


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_user_folder_with_miner_py_runs_the_readme_example_and_localnet(
    wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    """cwd (and the script's folder) are first on sys.path: nothing of ours may import from
    there. The user's files raise on import, so any shadowing fails loudly."""
    folder = _user_folder(tmp_path)
    text = (REPO / "README.md").read_text()
    example = folder / "example.py"
    example.write_text(re.findall(r"```python\n(.*?)```", text, flags=re.S)[0])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(wheel_venv.python), str(example)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("HELLO SUBNET "), run.stdout
    # The echo subnet keeps this cheap; the command, its children and their imports are the
    # ones README's `subnetkit localnet up` runs (children get the cwd on sys.path too).
    net = subprocess.run(
        [str(wheel_venv.cli), "localnet", "up", "--epochs", "1", *CHEAP_NET, "--format", "json"],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**env, "TMPDIR": str(tmp_path)},
        timeout=180,
    )
    assert net.returncode == 0, net.stderr[-3000:]
    summary = json.loads(net.stdout)
    assert summary["epochs"] == 1 and not summary["interrupted"]
    assert "Traceback" not in net.stderr

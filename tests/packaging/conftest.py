"""A wheel of this checkout, installed alone into a fresh venv (built once per test session).

The wheel is built from a copy of the files git would ship (tracked plus untracked, not
ignored), so the build never writes ``build/`` into the checkout. The fresh venv has no pip and
no system site-packages: the wheel goes in with this venv's pip (``--python``, ``--no-deps``),
and the project venv's site-packages is appended to its path by a ``.pth`` line so torch and
the other dependencies are found without a download. A path line does not run the ``.pth``
files of that folder, so the project's editable finder stays out: what imports as
``subnetkit`` in the fresh venv is the wheel.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPS_PTH = "project-deps.pth"
PIP = (sys.executable, "-m", "pip")


@dataclass(frozen=True, slots=True)
class WheelVenv:
    """A venv holding only the wheel (plus a path line to the project's dependencies)."""

    root: Path
    python: Path
    site_packages: Path
    wheel: Path

    @property
    def cli(self) -> Path:
        """The ``subnetkit`` console script the wheel installed."""
        return self.root / "bin" / "subnetkit"


def shipped_files(repo: Path) -> list[str]:
    """The files a clone of the checkout as it is now would hold."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in out.split("\0") if name and (repo / name).is_file()]


def build_wheel(repo: Path, work: Path) -> Path:
    """Build the wheel from a copy of the shipped files, without build isolation (offline)."""
    source = work / "src"
    for name in shipped_files(repo):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)
    dist = work / "dist"
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = dist.glob("subnetkit-*.whl")
    return wheel


def install_into_fresh_venv(wheel: Path, root: Path) -> WheelVenv:
    """A pip-less venv with ``wheel`` installed and the project's dependencies on its path."""
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(root)
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    subprocess.run(
        [*PIP, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (site / DEPS_PTH).write_text(sysconfig.get_paths()["purelib"] + "\n")
    return WheelVenv(root=root, python=python, site_packages=site, wheel=wheel)


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    """This checkout's wheel, installed into a fresh venv (see the module docstring)."""
    work = tmp_path_factory.mktemp("wheel")
    return install_into_fresh_venv(build_wheel(REPO, work), work / "venv")

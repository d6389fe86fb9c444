"""Every package folder is in pyproject's explicit ``packages`` list.

Folders map to import names (``miner/`` -> ``subnetkit.miner``), so setuptools cannot discover
packages: one left out of the list is silently missing from the wheel while the editable
install, which maps whole folders, still imports it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

from tests.packaging.conftest import REPO, shipped_files


def _setuptools() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as handle:
        tool = tomllib.load(handle)["tool"]["setuptools"]
    assert isinstance(tool, dict)
    return tool


def package_names(files: list[PurePosixPath], package_dir: dict[str, str]) -> set[str]:
    """The import name of every folder holding an ``__init__.py`` below a mapped one."""
    names: set[str] = set()
    for package, folder in package_dir.items():
        base = PurePosixPath(folder)
        for path in files:
            if path.name == "__init__.py" and path.is_relative_to(base):
                rel = path.parent.relative_to(base)
                names.add(".".join((package, *rel.parts)))
    return names


def test_every_package_folder_is_listed() -> None:
    tool = _setuptools()
    package_dir = tool["package-dir"]
    listed = tool["packages"]
    assert isinstance(package_dir, dict) and isinstance(listed, list)
    files = [PurePosixPath(name) for name in shipped_files(REPO)]
    found = package_names(files, package_dir)
    assert "subnetkit.protos.chain.v1" in found  # mapped folders are walked, not just roots
    missing = sorted(found - set(listed))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    for name in listed:  # data-only folders (templates) are listed without an __init__.py
        assert _folder(name, package_dir).is_dir(), f"{name} is listed but has no folder"


def _folder(package: str, package_dir: dict[str, str]) -> Path:
    """Where ``package`` lives on disk, through the longest matching package-dir entry."""
    best = max((p for p in package_dir if package == p or package.startswith(p + ".")), key=len)
    rest = package[len(best) :].lstrip(".")
    return REPO / package_dir[best] / Path(*rest.split(".")) if rest else REPO / package_dir[best]


def test_a_package_folder_missing_from_the_list_is_found() -> None:
    files = [PurePosixPath(p) for p in ("miner/__init__.py", "miner/new/__init__.py", "x.py")]
    found = package_names(files, {"subnetkit.miner": "miner"})
    assert found == {"subnetkit.miner", "subnetkit.miner.new"}

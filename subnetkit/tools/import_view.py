"""A tree of symlinks that lays the repository out the way it installs, for static checkers.

The repository keeps ``chain/``, ``miner/``, ``validator/``, ``protos/`` and ``subnets/`` at the
top level and maps them under ``subnetkit`` with ``[tool.setuptools.package-dir]``. Python finds
them through setuptools' editable import hook, but tools that read files rather than import them
(import-linter's graph builder, mypy) turn a path into a module name by walking folders, and
would see ``chain.store`` where Python sees ``subnetkit.chain.store``. Both follow symlinks, so
this module builds ``DEST/subnetkit/`` with ``chain -> ../../chain`` and so on, and the checkers
read the real files under their installed names. The tree is rebuilt on every run, so a new
module or package shows up without re-installing.

Usage: ``python -m subnetkit.tools.import_view DEST`` (from the repository root); ``make test``
does this before ``lint-imports`` and ``mypy``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from pathlib import Path


def package_dirs(repo_root: Path) -> dict[str, Path]:
    """``[tool.setuptools.package-dir]`` of ``repo_root/pyproject.toml`` as absolute folders."""
    with (repo_root / "pyproject.toml").open("rb") as fh:
        config = tomllib.load(fh)
    mapping = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    if not mapping:
        raise ValueError(f"{repo_root / 'pyproject.toml'} has no [tool.setuptools.package-dir]")
    return {package: (repo_root / folder).resolve() for package, folder in mapping.items()}


def build(repo_root: Path, dest: Path) -> Path:
    """Replace ``dest`` with a symlink tree of every mapped package; return ``dest``.

    A package with another mapped package inside it (``subnetkit`` holds ``subnetkit.chain``)
    becomes a real folder whose entries are symlinks, so the nested package can sit beside them;
    any other package is one symlink to its folder.
    """
    mapping = package_dirs(repo_root)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for package in sorted(mapping, key=lambda name: name.count(".")):
        folder = mapping[package]
        target = dest.joinpath(*package.split("."))
        nested = {
            other.split(".")[package.count(".") + 1]
            for other in mapping
            if other.startswith(package + ".")
        }
        if not nested:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(folder, target_is_directory=True)
            continue
        target.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.name not in nested and entry.name != "__pycache__":
                (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m subnetkit.tools.import_view DEST", file=sys.stderr)
        return 2
    try:
        build(Path(os.getcwd()), Path(argv[0]))
    except (OSError, ValueError) as exc:
        print(f"import view: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Protobuf/gRPC code generation, for subnetkit's own protos and for subnet developers'.

A ``.proto``'s path is its Python import path: the code protoc writes imports its siblings by
that path, so the path protoc sees must be the one Python imports. For a subnet developer's
package that is the path below the package root (the first folder up without an
``__init__.py``). For subnetkit's own folders, which install under another name
(``protos/`` imports as ``subnetkit.protos``), the mapping comes from
``[tool.setuptools.package-dir]`` in pyproject.toml and is handed to protoc as a
``VIRTUAL=DISK`` include path, so ``protos/chain/v1/chain.proto`` compiles as
``subnetkit/protos/chain/v1/chain.proto``.

A ``.proto`` whose path below the include root differs from its import location is refused
with the root to use: compiled anyway, its generated imports would fail at run time.

Each ``.proto`` yields ``*_pb2.py``, ``*_pb2_grpc.py`` and the mypy-protobuf stubs beside it.
The generated files are committed; ``tests/tools/test_codegen.py`` regenerates into a temp dir
and fails if they are stale.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from subnetkit.core.errors import ConfigError

GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi", "_pb2_grpc.pyi")


def find_protos(paths: Iterable[Path]) -> list[Path]:
    """Expand directories to the ``.proto`` files below them, sorted, no duplicates."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*.proto") if ".venv" not in p.parts)
        elif path.suffix == ".proto" and path.is_file():
            found.add(path)
        else:
            raise ConfigError(f"{path}: not a .proto file or a directory holding some")
    return sorted(found)


def _plugin(name: str) -> str:
    """Locate a protoc plugin installed beside the running interpreter (or on PATH)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return found


def package_root(proto: Path) -> Path:
    """The folder Python imports ``proto``'s package from: the first one up that is no package."""
    folder = proto.resolve().parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def import_path(proto: Path, *, root: Path, mapping: Mapping[str, str]) -> PurePosixPath:
    """The path protoc must see for ``proto`` so that generated imports resolve.

    ``mapping`` maps folders (relative to ``root``) to their import prefix, e.g.
    ``{"protos": "subnetkit/protos"}``. Outside those folders the path below ``root`` must be
    the import path; otherwise :class:`ConfigError` names the root to compile from.
    """
    absolute = proto.resolve()
    try:
        rel = PurePosixPath(absolute.relative_to(root).as_posix())
    except ValueError as exc:
        raise ConfigError(f"{proto} is outside the include root {root}: pass --root") from exc
    for disk, virtual in mapping.items():
        disk_path = PurePosixPath(disk)
        if rel.is_relative_to(disk_path):
            return PurePosixPath(virtual) / rel.relative_to(disk_path)
    pkg_root = package_root(absolute)
    expected = PurePosixPath(absolute.relative_to(pkg_root).as_posix())
    if rel != expected:
        module = ".".join(expected.with_suffix("").parts) + "_pb2"
        raise ConfigError(
            f"{proto}: compiled from {root} its code would import as "
            f"{'.'.join(rel.with_suffix('').parts)}_pb2, but Python imports it as {module}; "
            f"run from {pkg_root} or pass --root {pkg_root}"
        )
    return rel


def compile_protos(
    protos: Sequence[Path],
    *,
    root: Path,
    out: Path | None = None,
    stubs: bool = True,
    mapping: Mapping[str, str] | None = None,
) -> list[Path]:
    """Compile ``protos`` (paths under ``root``) into ``out`` (default: beside the sources).

    ``mapping`` (default: read from ``root``'s pyproject.toml) maps folders to import prefixes.
    Returns the generated files. Raises :class:`ConfigError` with protoc's message on failure.
    """
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as exc:  # pragma: no cover - dev extra missing
        raise ConfigError("grpcio-tools is not installed: pip install -e '.[dev]'") from exc

    root = root.resolve()
    out = (out or root).resolve()
    if mapping is None:
        mapping = configured_mapping(root)
    if not protos:
        raise ConfigError("no .proto files to compile")
    virtual = {proto: import_path(proto, root=root, mapping=mapping) for proto in protos}
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    includes = [f"-I{v}={root / d}" for d, v in mapping.items()]
    with tempfile.TemporaryDirectory(prefix="subnetkit-protoc-") as tmp:
        args = [
            "grpc_tools.protoc",
            *includes,
            f"-I{root}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--grpc_python_out={tmp}",
        ]
        if stubs:
            args += [
                f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
                f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
                f"--mypy_out={tmp}",
                f"--mypy_grpc_out={tmp}",
            ]
        cwd = os.getcwd()
        try:
            os.chdir(root)  # protoc reports errors relative to the include root
            code = protoc.main([*args, *(str(v) for v in virtual.values())])
        finally:
            os.chdir(cwd)
        if code != 0:
            names = " ".join(str(v) for v in virtual.values())
            raise ConfigError(f"protoc failed (exit {code}) on {names}; see its message above")
        generated: list[Path] = []
        for proto, path in virtual.items():
            disk_stem = out / proto.resolve().relative_to(root).with_suffix("")
            tmp_stem = Path(tmp) / path.with_suffix("")
            for suffix in GENERATED_SUFFIXES:
                made = Path(str(tmp_stem) + suffix)
                if made.exists():
                    target = Path(str(disk_stem) + suffix)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(made, target)
                    generated.append(target)
    return generated


def _pyproject(repo_root: Path) -> dict[str, object]:
    pyproject = repo_root / "pyproject.toml"
    if not pyproject.exists():
        return {}
    with pyproject.open("rb") as fh:
        return tomllib.load(fh)


def configured_roots(repo_root: Path) -> list[Path]:
    """The proto roots named in ``[tool.subnetkit.codegen] roots`` of pyproject.toml."""
    tool = _pyproject(repo_root).get("tool", {})
    assert isinstance(tool, dict)
    roots = tool.get("subnetkit", {}).get("codegen", {}).get("roots", [])
    return [repo_root / r for r in roots]


def configured_mapping(repo_root: Path) -> dict[str, str]:
    """Folders that install under another import name, from ``[tool.setuptools.package-dir]``.

    ``"subnetkit.protos" = "protos"`` becomes ``{"protos": "subnetkit/protos"}``; folders that
    import under their own name need no mapping and are left out.
    """
    tool = _pyproject(repo_root).get("tool", {})
    assert isinstance(tool, dict)
    package_dir = tool.get("setuptools", {}).get("package-dir", {})
    mapping: dict[str, str] = {}
    for package, folder in package_dir.items():
        virtual = package.replace(".", "/")
        if package and PurePosixPath(folder) != PurePosixPath(virtual):
            mapping[str(PurePosixPath(folder))] = virtual
    return mapping

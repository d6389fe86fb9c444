"""Protobuf/gRPC code generation, for subnetkit's own protos and for subnet developers'.

``.proto`` paths mirror their Python import path (``protos/chain/v1/chain.proto`` becomes
``protos.chain.v1.chain_pb2``), so the include root is the repository root and generated
imports need no rewriting. Each ``.proto`` yields ``*_pb2.py``, ``*_pb2_grpc.py`` and the
mypy-protobuf stubs ``*_pb2.pyi`` / ``*_pb2_grpc.pyi`` beside it. The generated files are
committed; ``tests/test_codegen.py`` regenerates into a temp dir and fails if they are stale.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from subnetkit.errors import ConfigError

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


def compile_protos(
    protos: Sequence[Path], *, root: Path, out: Path | None = None, stubs: bool = True
) -> list[Path]:
    """Compile ``protos`` (paths under ``root``) into ``out`` (default: beside the sources).

    Returns the generated files. Raises :class:`ConfigError` with protoc's message on failure.
    """
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as exc:  # pragma: no cover - dev extra missing
        raise ConfigError("grpcio-tools is not installed: pip install -e '.[dev]'") from exc

    root = root.resolve()
    out = (out or root).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rel: list[str] = []
    for proto in protos:
        absolute = proto.resolve()
        try:
            rel.append(str(absolute.relative_to(root)))
        except ValueError as exc:
            raise ConfigError(f"{proto} is outside the include root {root}") from exc
    if not rel:
        raise ConfigError("no .proto files to compile")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
    ]
    if stubs:
        args += [
            f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
            f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
        ]
    cwd = os.getcwd()
    try:
        os.chdir(root)  # protoc reports errors relative to the include root
        code = protoc.main([*args, *rel])
    finally:
        os.chdir(cwd)
    if code != 0:
        raise ConfigError(f"protoc failed (exit {code}) on {' '.join(rel)}; see its message above")
    generated: list[Path] = []
    for name in rel:
        stem = out / name[: -len(".proto")]
        for suffix in GENERATED_SUFFIXES:
            path = Path(str(stem) + suffix)
            if path.exists():
                generated.append(path)
    return generated


def configured_roots(repo_root: Path) -> list[Path]:
    """The proto roots named in ``[tool.subnetkit.codegen] roots`` of pyproject.toml."""
    import tomllib

    pyproject = repo_root / "pyproject.toml"
    if not pyproject.exists():
        return []
    with pyproject.open("rb") as fh:
        conf = tomllib.load(fh)
    roots = conf.get("tool", {}).get("subnetkit", {}).get("codegen", {}).get("roots", [])
    return [repo_root / r for r in roots]

"""The committed generated code must match what the pinned toolchain generates now."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.tools import codegen

REPO = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    protos = codegen.find_protos(codegen.configured_roots(REPO))
    assert protos, "no .proto files found under the configured roots"
    generated = codegen.compile_protos(protos, root=REPO, out=tmp_path)
    assert generated
    stale = []
    for fresh in generated:
        committed = REPO / fresh.relative_to(tmp_path)
        if not committed.exists() or not filecmp.cmp(fresh, committed, shallow=False):
            stale.append(str(committed.relative_to(REPO)))
    assert not stale, f"stale generated code, run `subnetkit proto compile`: {stale}"


def test_compile_rejects_a_broken_proto(tmp_path: Path) -> None:
    bad = tmp_path / "bad.proto"
    bad.write_text('syntax = "proto3";\nmessage M { int32 x = 1 }\n')
    with pytest.raises(ConfigError, match="protoc failed"):
        codegen.compile_protos([bad], root=tmp_path, out=tmp_path / "out")


def test_find_protos_rejects_non_proto(tmp_path: Path) -> None:
    other = tmp_path / "x.txt"
    other.write_text("hi")
    with pytest.raises(ConfigError, match=r"not a \.proto"):
        codegen.find_protos([other])

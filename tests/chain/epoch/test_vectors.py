"""Every public epoch vector, per-epoch and stateful: the float64 epoch within the tolerances
of tests/chain/epoch/vectors/README.md, the exact epoch with none at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from subnetkit.chain.epoch.scenario import VECTOR_FIELDS, outputs_to_json, parse_scenario, replay

VECTORS = Path(__file__).resolve().parent / "vectors"
PUBLIC = (
    "rust_test_active_stake",
    "rust_test_bonds",
    "rust_test_outdated_weights",
    "rust_test_yuma3_kappa_moves_first",
    "rust_test_zero_weights",
)
# Missing vectors must FAIL, not skip: they are part of the repository. An empty glob still
# yields the five public names.
FILES = sorted(VECTORS.glob("*.json")) or [VECTORS / f"{name}.json" for name in PUBLIC]
MISSING = f"epoch vectors not found at {VECTORS}"

BOOL_FIELDS = {"active", "new_validator_permit"}
RAO_FIELDS = {"server_emission", "validator_emission", "emission"}

# README "Recommended tolerances" for a float64 implementation.
TOLERANCES: dict[str, dict[str, float]] = {
    "per-epoch": {"float": 1e-6, "ema": 1e-5, "bonds": 1, "u16": 1, "rao": 1e-6},
    "stateful": {"float": 5e-5, "ema": 1e-3, "bonds": 16, "u16": 2, "rao": 2e-5},
}


def _flat(value: Any) -> list[float]:
    if isinstance(value, list):
        return [x for item in value for x in _flat(item)]
    return [float(value)]


def _max_diff(got: Any, want: Any) -> float:
    a, b = _flat(got), _flat(want)
    assert len(a) == len(b), "shape mismatch"
    return max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)


def test_public_vectors_are_present() -> None:
    for name in PUBLIC:
        assert (VECTORS / f"{name}.json").is_file(), f"{MISSING}: {name}.json"


@pytest.mark.parametrize("mode", ["per-epoch", "stateful"])
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector(path: Path, mode: str) -> None:
    assert path.is_file(), f"{MISSING}: {path.name}"
    doc = json.loads(path.read_text())
    tol = TOLERANCES[mode]
    outputs = replay(parse_scenario(doc), stateful=mode == "stateful")
    assert len(outputs) == len(doc["expected"])
    failures = []
    for k, (out, want) in enumerate(zip(outputs, doc["expected"], strict=True)):
        got = outputs_to_json(out)
        rao = doc["epochs"][k].get("rao_emission", doc["hyperparameters"]["rao_emission"])
        for name in VECTOR_FIELDS:
            if name not in want:
                continue
            if name in BOOL_FIELDS:
                ok = got[name] == want[name]
                diff, limit = (0.0, 0.0) if ok else (1.0, 0.0)
            else:
                diff = _max_diff(got[name], want[name])
                if name == "ema_bonds":
                    limit = tol["ema"]
                elif name == "bonds":
                    limit = tol["bonds"]
                elif name in RAO_FIELDS:
                    limit = tol["rao"] * rao + 2
                else:
                    limit = tol["float"]
            if diff > limit:
                failures.append(f"epoch {k} {name}: off by {diff} (limit {limit})")
        for name, values in want.get("u16", {}).items():
            diff = _max_diff(got["u16"][name], values)
            if diff > tol["u16"]:
                failures.append(f"epoch {k} u16.{name}: off by {diff} (limit {tol['u16']})")
    assert not failures, "\n".join(failures)


def _differences(got: Any, want: Any, where: str) -> list[str]:
    """Every place where ``got`` is not exactly ``want`` (same JSON shape expected)."""
    if isinstance(want, dict):
        return [d for key in want for d in _differences(got[key], want[key], f"{where}.{key}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{where}: shape differs"]
        return [
            d
            for k, (a, b) in enumerate(zip(got, want, strict=True))
            for d in _differences(a, b, f"{where}[{k}]")
        ]
    # Fractions are exact I32F32 values: float equality is bit equality of the fixed point.
    same = got == want and type(got) is type(want) if isinstance(want, bool) else got == want
    return [] if same else [f"{where}: got {got!r}, want {want!r}"]


@pytest.mark.parametrize("mode", ["per-epoch", "stateful"])
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector_exact(path: Path, mode: str) -> None:
    """Zero tolerance: every integer and every fraction's fixed-point bits."""
    assert path.is_file(), f"{MISSING}: {path.name}"
    doc = json.loads(path.read_text())
    outputs = replay(parse_scenario(doc), stateful=mode == "stateful", exact=True)
    assert len(outputs) == len(doc["expected"])
    failures = []
    for k, (out, want) in enumerate(zip(outputs, doc["expected"], strict=True)):
        got = outputs_to_json(out)
        assert set(want) - {"u16"} <= set(VECTOR_FIELDS), "a field the replay does not produce"
        failures += _differences(got, want, f"epoch {k}")
    assert not failures, "\n".join(failures[:20])


def test_vectors_exact_with_the_torch_block_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The torch kernels (what a GPU runs) give the same bits as the numpy ones, here on CPU."""
    from subnetkit.chain.epoch import exact

    monkeypatch.setattr(exact, "_blocks_in_numpy", lambda device: False)
    for path in FILES:
        doc = json.loads(path.read_text())
        outputs = replay(parse_scenario(doc), stateful=True, exact=True)
        for k, (out, want) in enumerate(zip(outputs, doc["expected"], strict=True)):
            failures = _differences(outputs_to_json(out), want, f"{path.stem} epoch {k}")
            assert not failures, "\n".join(failures[:20])

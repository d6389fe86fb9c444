"""Record encoding: the fast paths write exactly the bytes of the general canonical walk.

State roots and stored rows of existing data dirs depend on these bytes, so every shape the
chain stores (sparse rows, commits, endpoints, hyperparameter dicts, scalars) is compared with
a straightforward reference encoder, and floats are still refused wherever they hide.
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest

from subnetkit.chain import records
from subnetkit.chain.records import Account, Neuron, Subnet


def _reference_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_reference_plain(getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, tuple | list):
        return [_reference_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _reference_plain(v) for k, v in value.items()}
    if isinstance(value, float):
        raise TypeError("float")
    return value


def _reference(value: Any) -> bytes:
    return json.dumps(_reference_plain(value), separators=(",", ":"), sort_keys=True).encode()


@dataclasses.dataclass(frozen=True)
class _One:
    only: Any


@dataclasses.dataclass(frozen=True)
class _Empty:
    pass


def _values() -> list[Any]:
    rng = random.Random(5)
    row = tuple(sorted((rng.randrange(4096), rng.randrange(65536)) for _ in range(500)))
    endpoint = ("10.0.0.1", 8091, 4, 1, "ab" * 32, 77)
    return [
        0,
        -5,
        2**70,
        True,
        None,
        "5GrwvaEF",
        (),
        [],
        row,
        tuple(range(10)),
        (("ab" * 32, 10, 2), ("cd" * 32, 11, 3)),  # commits
        ((1, True), (2, None), (3, "x")),
        ((1, 2), 3),  # mixed: not flat, takes the general walk
        ((1, (2, 3)),),
        [[1, 2], [3, 4]],
        Account(balance=10, nonce=3),
        Neuron("hk", "ck", 5, 6),
        Neuron("hk", "ck", 5, 6, True, False, 1, 2, 3, 4, 5, 6, 7, endpoint),
        Subnet(1, "ck", "hk", 3, hyperparams={"tempo": 360, "kappa": 32767, "a": 0}, n=4),
        {"b": 1, "a": (1, 2), "c": {"z": None, "y": ((1, 2),)}},
        _One(5),
        _One((1, _One("x"))),
        _Empty(),
    ]


@pytest.mark.parametrize("value", _values(), ids=lambda v: type(v).__name__)
def test_encode_matches_the_reference_bytes(value: Any) -> None:
    assert records.encode(value) == _reference(value)


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        (1, 2.5),
        ((1, 2), (3, 4.0)),
        ((1, 2.0),),
        [1, [2, 0.5]],
        {"a": (1.5,)},
        Account(1.0),
        _One((1, 2.0)),
    ],
    ids=repr,
)
def test_floats_are_refused_wherever_they_are(value: Any) -> None:
    with pytest.raises(TypeError, match="floats"):
        records.encode(value)


def test_decode_inverts_encode_for_records_and_rows() -> None:
    nrn = Neuron("hk", "ck", 5, 6, endpoint=("::1", 1, 0, 0, "", 9))
    assert records.decode(Neuron, records.encode(nrn)) == nrn
    row = ((0, 1), (5, 65535))
    assert records.decode(None, records.encode(row)) == row


@pytest.mark.parametrize("count", [0, 1, 2, 17, 4096])
def test_encode_int_pairs_matches_the_encoding_of_the_row(count: int) -> None:
    rng = random.Random(count)
    flat = [x for j in range(count) for x in (j * 3, rng.choice([0, 9, 10, 65535, -1, 2**40]))]
    row = tuple(zip(flat[::2], flat[1::2], strict=True))
    assert records.encode_int_pairs(flat) == records.encode(row) == _reference(row)


@pytest.mark.parametrize("flat", [[1, 2.0], [1, True], [1, "2"], [1, 2, 3]], ids=repr)
def test_encode_int_pairs_refuses_anything_but_pairs_of_ints(flat: list[Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        records.encode_int_pairs(flat)


def test_with_epoch_outputs_sets_those_and_carries_every_other_field() -> None:
    # Every field holds a distinct object, so a field dropped, swapped or reset shows up.
    original = Neuron(*(object() for _ in dataclasses.fields(Neuron)))
    outputs: dict[str, Any] = {
        "active": object(),
        "validator_permit": object(),
        "stake_weight": object(),
        "consensus": object(),
        "incentive": object(),
        "dividends": object(),
        "validator_trust": object(),
        "pruning_score": object(),
        "emission": object(),
    }
    updated = original.with_epoch_outputs(**outputs)
    expected = dataclasses.replace(original, **outputs)
    for f in dataclasses.fields(Neuron):
        assert getattr(updated, f.name) is getattr(expected, f.name), f.name

"""The typed records the chain state holds, and their canonical byte encoding.

Records are frozen dataclasses: a handler never mutates one in place, it writes a replacement
(``dataclasses.replace``), which is what lets :class:`chain.state.State` roll an extrinsic back by
restoring the previous object. The encoding is canonical JSON (fields in declaration order, sorted
dict keys, no spaces, integers only — no floats anywhere in state), so the same state always
hashes to the same state root on any machine.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: ``(ip, port, protocol, version, certificate_fingerprint_hex, block)``
Endpoint = tuple[str, int, int, int, str, int]
#: sparse row of ``(uid, u16)`` pairs, sorted by uid
SparseRow = tuple[tuple[int, int], ...]
#: pending weight commits of one hotkey: ``(hash_hex, commit_block, commit_epoch)``
Commits = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class Account:
    balance: int = 0
    nonce: int = 0


@dataclass(frozen=True, slots=True)
class Subnet:
    netuid: int
    owner_coldkey: str
    owner_hotkey: str
    registered_at: int
    hyperparams: dict[str, int] = field(default_factory=dict)
    n: int = 0
    #: pool reserves (dynamic TAO): TAO in the pool, alpha in the pool, alpha held outside it
    tao_in: int = 0
    alpha_in: int = 0
    alpha_out: int = 0
    alpha_issuance: int = 0
    #: emission accumulated since the last epoch (alpha units)
    pending_server: int = 0
    pending_validator: int = 0
    pending_root: int = 0
    pending_owner: int = 0
    last_epoch_block: int = 0
    #: registrations counted in ``regs_block`` (for max_registrations_per_block)
    regs_block: int = 0
    regs_in_block: int = 0

    def hp(self, name: str) -> int:
        return self.hyperparams[name]


@dataclass(frozen=True, slots=True)
class Neuron:
    hotkey: str
    coldkey: str
    block_at_registration: int
    last_update: int
    validator_permit: bool = False
    active: bool = True
    stake_weight: int = 0
    consensus: int = 0
    incentive: int = 0
    dividends: int = 0
    validator_trust: int = 0
    pruning_score: int = 0
    emission: int = 0
    endpoint: Endpoint | None = None

    def with_epoch_outputs(
        self,
        *,
        active: bool,
        validator_permit: bool,
        stake_weight: int,
        consensus: int,
        incentive: int,
        dividends: int,
        validator_trust: int,
        pruning_score: int,
        emission: int,
    ) -> Neuron:
        """``dataclasses.replace`` of every epoch output at once, at half its cost (an epoch
        writes all n neurons); the other fields are carried over (a test checks that every
        field is either set here or carried)."""
        return Neuron(
            self.hotkey,
            self.coldkey,
            self.block_at_registration,
            self.last_update,
            validator_permit,
            active,
            stake_weight,
            consensus,
            incentive,
            dividends,
            validator_trust,
            pruning_score,
            emission,
            self.endpoint,
        )


RECORD_TYPES: dict[str, type] = {"Account": Account, "Subnet": Subnet, "Neuron": Neuron}


#: exact types the JSON encoder writes as they are (no floats: they are not canonical)
_SCALARS = frozenset({int, str, bool, type(None)})
#: per record class, a getter of all its fields in declaration order (one C call)
_FIELDS_OF: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
#: the one encoder ``json.dumps(..., separators=(",", ":"), sort_keys=True)`` would build per call
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
#: every byte the encoder can write for nested lists of ints, and nothing else
_INT_LISTS_ALPHABET = b"0123456789-[],"


def _fields_of(value: Any) -> tuple[Any, ...]:
    cls = type(value)
    getter = _FIELDS_OF.get(cls)
    if getter is None:
        names = [f.name for f in dataclasses.fields(cls)]
        if len(names) >= 2:
            getter = operator.attrgetter(*names)
        else:  # attrgetter of one name returns the bare value, of none it refuses
            getter = functools.partial(_fields_one_by_one, names)
        _FIELDS_OF[cls] = getter
    return getter(value)


def _fields_one_by_one(names: list[str], value: Any) -> tuple[Any, ...]:
    return tuple(getattr(value, name) for name in names)


def _is_flat(seq: tuple[Any, ...] | list[Any]) -> bool:
    """Whether ``seq`` holds only scalars, or only tuples of scalars (sparse weight and bond
    rows, commits): then the encoder can take it as it is, because it writes a tuple exactly
    like the list :func:`_plain` would build. The type checks run in C (``set(map(type, ...))``),
    which is what makes a 4096-entry row cheap; anything else takes the general walk."""
    kinds = set(map(type, seq))
    if kinds <= _SCALARS:
        return True
    return kinds == {tuple} and set(map(type, itertools.chain.from_iterable(seq))) <= _SCALARS


def _plain(value: Any) -> Any:
    cls = type(value)
    if cls in _SCALARS:
        return value
    if (cls is tuple or cls is list) and _is_flat(value):
        return value
    if cls in _FIELDS_OF or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        items = _fields_of(value)
        if set(map(type, items)) <= _SCALARS:
            return items  # the encoder writes a tuple like a list
        return [_plain(v) for v in items]
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        raise TypeError("floats are not allowed in chain state (not canonical)")
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def encode(value: Any) -> bytes:
    """Canonical bytes of a record or plain value (what the state root commits to)."""
    cls = type(value)
    if cls is int:
        return b"%d" % value  # what the encoder writes for an int (int.__repr__)
    if cls is tuple or cls is list:
        # Rows of ints (weights, bonds) straight to the encoder, checked afterwards: its output
        # holds only these bytes exactly when the value is nested lists of ints (a float adds
        # '.', 'e', 'Infinity' or 'NaN'; a bool, None or string adds letters or quotes), and for
        # those the general walk below would hand the encoder the same structure.
        try:
            data = _ENCODER.encode(value).encode()
        except TypeError:  # a record inside: take the walk
            pass
        else:
            if not data.translate(None, _INT_LISTS_ALPHABET):
                return data
    return _ENCODER.encode(_plain(value)).encode()


@functools.lru_cache(maxsize=8)
def _pairs_format(pairs: int) -> bytes:
    return b"[" + b",".join([b"[%d,%d]"] * pairs) + b"]"


def encode_int_pairs(flat: Sequence[int]) -> bytes:
    """:func:`encode` of the row ``((flat[0], flat[1]), (flat[2], flat[3]), ...)``.

    For a caller that has the row's ints flat already (``tolist()`` of an int tensor): one
    ``%d`` format over them costs about half of encoding the tuple of pairs. ``%d`` would
    truncate a float or write a bool as a digit, so anything but exact ints is refused.
    """
    if len(flat) % 2:
        raise ValueError(
            f"a row of (uid, value) pairs needs an even count of ints, got {len(flat)}"
        )
    if flat and set(map(type, flat)) != {int}:
        raise TypeError("encode_int_pairs takes ints only; use encode() for anything else")
    return _pairs_format(len(flat) // 2) % tuple(flat)


def decode(record_type: type | None, data: bytes) -> Any:
    """Inverse of :func:`encode` given the table's record type (``None``: plain value)."""
    raw = json.loads(data)
    if record_type is None:
        return _freeze(raw)
    names = [f.name for f in dataclasses.fields(record_type)]
    kwargs = {}
    for name, item in zip(names, raw, strict=True):
        kwargs[name] = item if isinstance(item, dict) else _freeze(item)
    return record_type(**kwargs)

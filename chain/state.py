"""The whole chain state in memory, with per-extrinsic rollback and an incremental state root.

State is a set of named tables of typed records (see :mod:`chain.records`). Persistence sees it
as a key/value map: the key string is ``"<table>/<part>/<part>"`` and the value is the record's
canonical encoding.

State root: ``sum(SHA-256(len(key) || key || value)) mod 2**256`` over every entry, as 32
big-endian bytes. Adding, changing or deleting an entry adjusts the sum by the difference of its
leaf hashes, so committing a block costs O(keys changed), not O(state). The root is order
independent and reproducible from the key/value rows alone (``State.from_rows``), which is what
restart and replay check. It is a commitment for detecting divergence and corruption, not a
proof structure (no inclusion proofs; a sum of hashes is not meant to resist a deliberate
collision search).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from subnetkit.chain import records
from subnetkit.chain.records import Account, Neuron, Subnet

MOD = 2**256

#: table name -> (key part types, record type or None for plain JSON values)
TABLES: dict[str, tuple[tuple[type, ...], type | None]] = {
    "sys": ((str,), None),
    "acct": ((str,), Account),
    "subnet": ((int,), Subnet),
    "neuron": ((int, int), Neuron),
    "uid": ((int, str), None),
    "howner": ((str,), None),
    "stake": ((int, str, str), None),
    "hstake": ((int, str), None),
    "weights": ((int, int), None),
    "bonds": ((int, int), None),
    "commits": ((int, str), None),
    # dynamic epoch schedule per subnet: (epochs run, owner-triggered block or 0)
    "epochsched": ((int,), None),
    # payout mechanisms (chain/transition/mechanisms.py): delegate take per hotkey, childkey
    # take per (netuid, hotkey), children of a parent and parents of a child
    "dtake": ((str,), None),
    "cktake": ((int, str), None),
    "children": ((int, str), None),
    "parents": ((int, str), None),
}

Key = tuple[Any, ...]
_MISSING = object()


def key_string(table: str, key: Key) -> str:
    return table + "/" + "/".join(map(str, key))


def parse_key(kstr: str) -> tuple[str, Key]:
    table, _, rest = kstr.partition("/")
    types, _ = TABLES[table]
    parts = rest.split("/")
    return table, tuple(t(p) for t, p in zip(types, parts, strict=True))


def leaf_hash(kstr: str, value: bytes) -> int:
    k = kstr.encode()
    digest = hashlib.sha256(len(k).to_bytes(4, "big") + k)
    digest.update(value)  # no copy of a large value (a 4096-entry row is ~40 KB)
    return int.from_bytes(digest.digest(), "big")


class State:
    """Typed tables + dirty tracking + a journal for rolling back one extrinsic."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Key, Any]] = {name: {} for name in TABLES}
        #: (table, key) -> (key string, leaf hash) of every entry folded into the root; the key
        #: string is kept so a block that rewrites thousands of entries does not rebuild them
        self._leaf: dict[tuple[str, Key], tuple[str, int]] = {}
        self._acc = 0
        self._dirty: set[tuple[str, Key]] = set()
        #: canonical bytes a writer supplied with a value, used by the next flush while that
        #: very object is still the entry's value (records are immutable)
        self._encoded: dict[tuple[str, Key], tuple[Any, bytes]] = {}
        self._journal: list[tuple[str, Key, Any]] | None = None

    # -- reads / writes ------------------------------------------------------------------------
    def get(self, table: str, key: Key, default: Any = None) -> Any:
        return self.tables[table].get(key, default)

    def put(self, table: str, key: Key, value: Any, *, encoded: bytes | None = None) -> None:
        """Write ``value``; ``encoded``, if given, must be ``records.encode(value)`` (a writer
        that can produce those bytes more cheaply than the generic encoder passes them here)."""
        rows = self.tables[table]
        if self._journal is not None:
            self._journal.append((table, key, rows.get(key, _MISSING)))
        rows[key] = value
        self._dirty.add((table, key))
        if encoded is not None:
            self._encoded[table, key] = (value, encoded)

    def delete(self, table: str, key: Key) -> None:
        rows = self.tables[table]
        if key not in rows:
            return
        if self._journal is not None:
            self._journal.append((table, key, rows[key]))
        del rows[key]
        self._dirty.add((table, key))

    def items(self, table: str) -> Iterator[tuple[Key, Any]]:
        return iter(list(self.tables[table].items()))

    # -- per-extrinsic transaction -------------------------------------------------------------
    def begin(self) -> None:
        self._journal = []

    def rollback(self) -> None:
        assert self._journal is not None
        for table, key, old in reversed(self._journal):
            if old is _MISSING:
                self.tables[table].pop(key, None)
            else:
                self.tables[table][key] = old
        self._journal = None

    def release(self) -> None:
        self._journal = None

    # -- block commit --------------------------------------------------------------------------
    def flush(self) -> list[tuple[str, bytes | None]]:
        """Fold the writes since the last flush into the root; return ``(key, value|None)`` rows."""
        changes: list[tuple[str, bytes | None]] = []
        # Order: by table, then by repr(key) within it (the order rows have always been written
        # in); sorting each table's keys by the C-level repr costs far less than a Python key
        # function over every (table, key) pair.
        by_table: dict[str, list[Key]] = {}
        for table, key in self._dirty:
            by_table.setdefault(table, []).append(key)
        leaves = self._leaf
        acc = self._acc
        supplied = self._encoded
        try:
            for table in sorted(by_table):
                rows = self.tables[table]
                for key in sorted(by_table[table], key=repr):
                    tk = (table, key)
                    known = leaves.get(tk)
                    if known is None:
                        kstr, old_leaf = key_string(table, key), 0
                    else:
                        kstr, old_leaf = known
                    value = rows.get(key, _MISSING)
                    if value is _MISSING:
                        data = None
                        new_leaf = 0
                        if known is not None:
                            del leaves[tk]
                    else:
                        given = supplied.get(tk)
                        if given is not None and given[0] is value:
                            data = given[1]
                        else:
                            data = records.encode(value)
                        new_leaf = leaf_hash(kstr, data)
                        leaves[tk] = (kstr, new_leaf)
                    if old_leaf == new_leaf:
                        continue
                    acc = (acc - old_leaf + new_leaf) % MOD
                    changes.append((kstr, data))
        finally:
            self._acc = acc  # the root always matches the leaves folded so far
            supplied.clear()
        self._dirty.clear()
        return changes

    @property
    def root(self) -> bytes:
        """The state root as of the last :meth:`flush`."""
        return self._acc.to_bytes(32, "big")

    def rows(self) -> Iterator[tuple[str, bytes]]:
        """Every entry as ``(key string, canonical bytes)``; call after :meth:`flush`."""
        for table, rows in self.tables.items():
            for key, value in rows.items():
                yield key_string(table, key), records.encode(value)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, bytes]]) -> State:
        """Rebuild state (and its root) from persisted key/value rows."""
        state = cls()
        for kstr, data in rows:
            table, key = parse_key(kstr)
            _, record_type = TABLES[table]
            state.tables[table][key] = records.decode(record_type, data)
            leaf = leaf_hash(kstr, data)
            state._leaf[table, key] = (kstr, leaf)
            state._acc = (state._acc + leaf) % MOD
        return state

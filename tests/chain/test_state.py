"""State: the incremental root equals a root rebuilt from the rows; rollback restores exactly."""

from __future__ import annotations

from chain.records import Account, Neuron
from chain.state import State


def _root_from_scratch(state: State) -> bytes:
    return State.from_rows(list(state.rows())).root


def test_incremental_root_matches_rebuild_through_puts_changes_and_deletes() -> None:
    state = State()
    for i in range(50):
        state.put("acct", (f"addr{i}",), Account(balance=i, nonce=0))
    state.put("neuron", (1, 0), Neuron("hk", "ck", 5, 5))
    state.flush()
    assert state.root == _root_from_scratch(state)
    first = state.root
    state.put("acct", ("addr3",), Account(balance=999, nonce=1))
    state.delete("acct", ("addr7",))
    state.put("weights", (1, 0), ((1, 65535), (2, 10)))
    changes = state.flush()
    assert state.root != first
    assert state.root == _root_from_scratch(state)
    assert ("acct/addr7", None) in changes
    # Writing the old values back returns to the old root: it is a function of contents only.
    state.put("acct", ("addr3",), Account(balance=3, nonce=0))
    state.put("acct", ("addr7",), Account(balance=7, nonce=0))
    state.delete("weights", (1, 0))
    state.flush()
    assert state.root == first


def test_rollback_restores_values_and_absence() -> None:
    state = State()
    state.put("acct", ("a",), Account(balance=10))
    state.flush()
    before = state.root
    state.begin()
    state.put("acct", ("a",), Account(balance=1))
    state.put("acct", ("b",), Account(balance=5))
    state.delete("acct", ("a",))
    state.rollback()
    assert state.get("acct", ("a",)) == Account(balance=10)
    assert state.get("acct", ("b",)) is None
    state.flush()
    assert state.root == before


def test_rows_round_trip_typed_records() -> None:
    state = State()
    nrn = Neuron("hk", "ck", 3, 4, endpoint=("127.0.0.1", 80, 4, 0, "ab" * 32, 9))
    state.put("neuron", (2, 7), nrn)
    state.put("sys", ("hp_defaults",), {"tempo": 10, "kappa": 32767})
    state.put("commits", (2, "hk"), (("ff" * 32, 5, 1),))
    state.flush()
    again = State.from_rows(list(state.rows()))
    assert again.get("neuron", (2, 7)) == nrn
    assert again.get("sys", ("hp_defaults",)) == {"tempo": 10, "kappa": 32767}
    assert again.get("commits", (2, "hk")) == (("ff" * 32, 5, 1),)

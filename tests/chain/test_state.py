"""State: the incremental root equals a root rebuilt from the rows; rollback restores exactly."""

from __future__ import annotations

from subnetkit.chain.records import Account, Neuron
from subnetkit.chain.state import State


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


def test_supplied_encoding_is_used_only_while_its_value_is_the_entry() -> None:
    row = ((0, 7), (3, 65535))
    # Deliberately different bytes, so the test sees which ones the flush hashed and wrote.
    marker = b"[[0,7],[3,65535]] "
    state = State()
    state.put("bonds", (1, 0), row, encoded=marker)
    assert state.flush() == [("bonds/1/0", marker)]
    # A later flush never reuses bytes supplied for an earlier one.
    state.put("bonds", (1, 0), ((0, 8),))
    assert state.flush() == [("bonds/1/0", b"[[0,8]]")]
    # A value rolled back (or overwritten) after its bytes were supplied is encoded afresh.
    state.begin()
    state.put("bonds", (1, 0), row, encoded=marker)
    state.rollback()
    state.put("bonds", (1, 1), row, encoded=marker)
    state.put("bonds", (1, 1), ((1, 1),))
    assert state.flush() == [("bonds/1/1", b"[[1,1]]")]


def test_incremental_root_and_rows_match_a_rebuild_after_many_flushes() -> None:
    state = State()
    for block in range(4):
        for uid in range(30):
            state.put("neuron", (1, uid), Neuron(f"hk{uid}", "ck", 1, block, emission=uid * block))
            state.put("hstake", (1, f"hk{uid}"), uid + block)
        if block % 2:
            state.delete("hstake", (1, "hk3"))
        state.flush()
        assert state.root == _root_from_scratch(state)

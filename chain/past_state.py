"""Past-block state read from the store on demand, on reader threads of its own.

A past-block query used to load every state row as of that block and rebuild the whole state
(all accounts, all weights) in the thread pool that also applies blocks: on a 20,000-account
state, 32 such queries stopped block production. Here a query reads only the keys it touches,
each one the latest stored version at or below the block (the versioned ``state`` table is
keyed by ``(key, block)``, so that is one index seek), inside one SQLite read transaction: a
WAL snapshot that neither blocks the writer nor sees a prune that commits meanwhile.

The queries run on :data:`READERS` threads with their own read-only connections. How many may
be in flight, per caller and in all, and how they give way to block production (they pace
themselves between keys while the chain writes), is :mod:`chain.read_share`'s job.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from subnetkit.chain import records
from subnetkit.chain.errors import chain_error
from subnetkit.chain.read_share import ReadShare
from subnetkit.chain.state import TABLES, Key, key_string, parse_key
from subnetkit.chain.store import corrupt

T = TypeVar("T")
#: reader threads (each with its own connection)
READERS = 2
#: rows of a table scan decoded between two pacing points
_ROWS_PER_PACE = 32
_MISSING = object()


class PastState:
    """The state as of ``block``, read lazily through ``conn`` (duck-types :class:`State`'s
    ``get`` and ``items``, which is all the query functions use)."""

    def __init__(self, conn: sqlite3.Connection, block: int, share: ReadShare) -> None:
        self._conn = conn
        self.block = block
        self._share = share
        self._cache: dict[tuple[str, Key], Any] = {}

    def get(self, table: str, key: Key, default: Any = None) -> Any:
        cached = self._cache.get((table, key), _MISSING)
        if cached is _MISSING:
            self._share.pace()
            row = self._conn.execute(
                "SELECT value FROM state WHERE key = ? AND block <= ? ORDER BY block DESC LIMIT 1",
                (key_string(table, key), self.block),
            ).fetchone()
            value = None if row is None or row[0] is None else bytes(row[0])
            cached = None if value is None else _decode(table, key_string(table, key), value)
            self._cache[table, key] = cached
        return default if cached is None else cached

    def items(self, table: str) -> Iterator[tuple[Key, Any]]:
        # '0' is the character after '/': the range holds exactly this table's keys
        self._share.pace()
        rows = self._conn.execute(
            "SELECT key, value, MAX(block) FROM state WHERE key >= ? AND key < ? AND block <= ? "
            "GROUP BY key",
            (table + "/", table + "0", self.block),
        ).fetchall()
        out = []
        for n, (kstr, value, _) in enumerate(rows):
            if n % _ROWS_PER_PACE == _ROWS_PER_PACE - 1:
                self._share.pace()
            if value is not None:
                out.append((_key(kstr), _decode(table, kstr, bytes(value))))
        return iter(out)


def _decode(table: str, kstr: str, value: bytes) -> Any:
    """A stored record, or ``state_corrupt`` naming the key whose bytes do not decode."""
    try:
        return records.decode(TABLES[table][1], value)
    except Exception as exc:  # whatever a damaged value makes the decoder raise
        raise corrupt(
            f"the stored value of {kstr[:120]!r} does not decode ({exc!r:.200})"
        ) from None


def _pruned_before(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise corrupt(f"the stored prune mark {raw[:40]!r} is not a block number") from None


def _key(kstr: str) -> Key:
    try:
        return parse_key(kstr)[1]
    except Exception as exc:
        raise corrupt(f"the stored key {kstr[:120]!r} does not parse ({exc!r:.200})") from None


class PastReader:
    """Runs ``fn(PastState, block, block_hash)`` for past blocks on its own reader threads."""

    def __init__(self, db_path: Path, keep_blocks: int, share: ReadShare) -> None:
        self.db_path = db_path
        self.keep_blocks = keep_blocks
        self.share = share
        self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="chain-past-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"file:{self.db_path}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def read(self, block: int, fn: Callable[[Any, int, bytes], T]) -> T:
        """``fn(PastState, block, block_hash)`` on a reader thread (admission is the caller's:
        :meth:`chain.read_share.ReadShare.admit`)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, block, fn)

    def _run(self, block: int, fn: Callable[[Any, int, bytes], T]) -> T:
        self.share.start()
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot for the whole query
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'pruned_before'").fetchone()
            if row is not None and block < _pruned_before(bytes(row[0])):
                raise chain_error(
                    "block_pruned",
                    f"state at block {block} is no longer kept (the chain keeps the last "
                    f"{self.keep_blocks} blocks); query a more recent block",
                )
            found = conn.execute("SELECT hash FROM blocks WHERE number = ?", (block,)).fetchone()
            if found is None:
                raise chain_error("block_not_found", f"no block {block}")
            return fn(PastState(conn, block, self.share), block, bytes(found[0]))
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()

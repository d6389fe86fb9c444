"""SQLite persistence for the chain: blocks, extrinsics with receipts, and versioned state.

One database file per data dir, in WAL mode with ``synchronous=NORMAL``. Each block is written
in ONE transaction (its header, extrinsics, receipts, events and every changed state key), and a
receipt is handed to a client only after that transaction commits. In WAL mode a commit is an
append to the WAL file that is in the operating system's hands once ``COMMIT`` returns, so a
``kill -9`` of the chain process at any moment loses nothing that was reported included
(``NORMAL`` only gives up durability against power loss / OS crash, where the last commits may
roll back; use ``synchronous=FULL`` via ``durable=True`` for that).

State is versioned: ``state(key, block, value)`` holds a row per key per block that changed it
(``value`` NULL = deleted). The head state is the latest row of each key; a past block's state is
the latest row at or below it. Rows superseded before ``head - keep_blocks`` are pruned, so past
queries reach back ``keep_blocks`` blocks; blocks and extrinsics are kept forever, which is what
replay from genesis needs.

Checkpoints (copying WAL pages into the database file) run on a second connection after each
block commit, not inside it: with SQLite's default auto-checkpoint, the commit that crosses 1000
WAL pages does it inline, which an epoch block at n = 4096 (~4 MB of rows) did nearly every time.
A passive checkpoint never blocks the writer or readers; it changes nothing about durability
(a commit is in the WAL either way). The writer still checkpoints inline if the WAL ever grows
past ``INLINE_CHECKPOINT_PAGES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TypeVar

import aiosqlite
from google.protobuf.message import DecodeError, Message

from subnetkit.chain.errors import chain_error
from subnetkit.core.errors import ChainError, ConfigError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL, block BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS extrinsics (
    block INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL UNIQUE,
    data BLOB NOT NULL, receipt BLOB NOT NULL, PRIMARY KEY (block, idx));
CREATE TABLE IF NOT EXISTS state (
    key TEXT NOT NULL, block INTEGER NOT NULL, value BLOB,
    PRIMARY KEY (key, block)) WITHOUT ROWID;
"""

DB_NAME = "chain.sqlite"
#: page cache per connection (KiB when negative): an epoch block at n = 4096 rewrites ~4 MB
CACHE_KIB = 64 * 1024
#: WAL pages after which a commit checkpoints inline; normally the background checkpoint after
#: each block keeps the WAL far below this (SQLite's default is 1000 pages, on every such commit)
INLINE_CHECKPOINT_PAGES = 16_000

log = logging.getLogger(__name__)
#: distinct storage faults met by reads that are logged (each once); past that, one line says
#: the rest go unlogged, so a client re-reading a damaged row cannot flood the log
MAX_LOGGED_FAULTS = 64
M = TypeVar("M", bound=Message)


def corrupt(where: str) -> ChainError:
    """``state_corrupt`` for data the store holds but cannot be read back (``where`` says what)."""
    return chain_error(
        "state_corrupt",
        f"{where}: the chain's data is damaged; restore the data dir from a backup, or replay "
        "a copy with `subnetkit chain replay` to find the first bad block",
    )


def _parse(cls: type[M], raw: bytes, what: str) -> M:
    """A stored ``cls`` parsed from ``raw``, or ``state_corrupt`` naming ``what`` it was."""
    message = cls()
    try:
        message.ParseFromString(raw)
    except DecodeError as exc:
        raise corrupt(f"{what} does not parse as a {cls.DESCRIPTOR.name} ({exc})") from None
    return message


class ChainStore:
    def __init__(self, data_dir: Path, *, keep_blocks: int = 256, durable: bool = False) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.keep_blocks = keep_blocks
        self.durable = durable
        self._db: aiosqlite.Connection | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._faults_said: set[str] = set()

    @property
    def db(self) -> aiosqlite.Connection:
        assert self._db is not None, "store is not open"
        return self._db

    async def open(self, *, create: bool = True) -> None:
        """Open (creating if needed and ``create``) the database and prove it writable.

        A data dir that cannot be created or written, or a read-only database file, is a
        :class:`ConfigError` naming it; a file there that is not a chain database (an empty
        file included: it would silently become a new genesis) is ``state_corrupt``. Either
        way nothing stays open, and nothing is created when ``create`` is false.
        """
        data_dir = self.path.parent
        if not create and not self.path.is_file():
            raise ConfigError(f"no chain database at {self.path}; check --data-dir")
        if self.path.is_file() and self.path.stat().st_size == 0 and not _wal_has_data(self.path):
            raise chain_error(
                "state_corrupt",
                f"{self.path} is an empty file, not a chain database; restore it from a backup, "
                "or delete it to start a new chain from genesis",
            )
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = "it is a file" if data_dir.is_file() else (exc.strerror or str(exc))
            raise ConfigError(
                f"cannot use {data_dir} as the chain's data dir ({why}); pass a --data-dir "
                "that is, or can be created as, a writable directory"
            ) from None
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self.db.execute("PRAGMA journal_mode=WAL")
            await self.db.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
            await self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            await self.db.execute(f"PRAGMA wal_autocheckpoint={INLINE_CHECKPOINT_PAGES}")
            await self.db.executescript(SCHEMA)
            if create:
                await self._probe_writable()
        except sqlite3.Error as exc:
            await self.close()
            raise self.fault(exc, "opening it") from None

    async def _probe_writable(self) -> None:
        """Write (and roll back) one row now, so a read-only file fails the start, not a block."""
        async with self._transaction():
            await self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', x'00')"
            )
            await self.db.execute("DELETE FROM meta WHERE key = 'write_probe'")

    def fault(self, exc: sqlite3.Error, doing: str) -> Exception:
        """The typed error for an SQLite failure while ``doing``: what happened, what to do."""
        name = getattr(exc, "sqlite_errorname", None) or ""
        where = f"{self.path} ({exc}) while {doing}"
        if name.startswith("SQLITE_READONLY") or (
            isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc)
        ):
            return ConfigError(
                f"cannot write {where}; make the file and --data-dir writable by this user"
            )
        if name.startswith("SQLITE_FULL"):
            return chain_error("storage_full", f"the disk is full: {where}; free space, restart")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return corrupt(where)
        return chain_error("storage_error", f"storage failed: {where}; check the disk, restart")

    def read_fault(self, exc: sqlite3.Error | ChainError, doing: str) -> ChainError:
        """The typed error for a storage fault a read met while ``doing``, logged once.

        The chain goes on serving (a read changes nothing): the error goes to the caller with
        its status (``state_corrupt`` is DATA_LOSS, ``storage_error`` UNAVAILABLE), and the log
        gets one line per distinct fault, without a traceback.
        """
        err = exc if isinstance(exc, ChainError) else self.fault(exc, doing)
        if not isinstance(err, ChainError):  # a file that went read-only: reads still work
            err = chain_error("storage_error", str(err))
        said = self._faults_said
        if err.message not in said and len(said) <= MAX_LOGGED_FAULTS:
            said.add(err.message)
            if len(said) > MAX_LOGGED_FAULTS:
                log.error("more storage faults met by reads; only the first are logged")
            else:
                log.error("a read met a storage fault: [%s] %s", err.code, err.message)
        return err

    async def close(self) -> None:
        await self.checkpoint_done()
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    # -- checkpoints -----------------------------------------------------------------------------
    async def checkpoint_done(self) -> None:
        """Wait for the background checkpoint in flight, if any (it never raises)."""
        if self._checkpoint_task is not None:
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)
            self._checkpoint_task = None

    def _checkpoint_soon(self) -> None:
        """Start a passive checkpoint beside the writer unless one is still running."""
        if self._checkpoint_task is None or self._checkpoint_task.done():
            self._checkpoint_task = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            if self._checkpointer is None:
                self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
                await self._checkpointer.execute(
                    f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}"
                )
            await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next block retries; the writer's inline threshold still bounds it
            log.exception("background WAL checkpoint of %s failed", self.path)

    # -- meta ----------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> bytes | None:
        async with self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return None if row is None else bytes(row[0])

    # -- writes --------------------------------------------------------------------------------
    async def write_genesis(
        self, genesis_json: str, block: pb.Block, rows: Sequence[tuple[str, bytes]]
    ) -> None:
        header = block.header
        async with self._transaction():
            await self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('genesis', ?), ('genesis_hash', ?)",
                (genesis_json.encode(), header.hash),
            )
            await self.db.execute(
                "INSERT INTO blocks (number, hash, block) VALUES (0, ?, ?)",
                (header.hash, block.SerializeToString()),
            )
            await self.db.executemany(
                "INSERT INTO state (key, block, value) VALUES (?, 0, ?)", rows
            )

    async def commit_block(
        self,
        block: pb.Block,
        extrinsics: Sequence[tuple[int, bytes, bytes, bytes]],
        changes: Sequence[tuple[str, bytes | None]],
    ) -> None:
        """Write one block atomically: ``extrinsics`` rows are ``(idx, hash, data, receipt)``."""
        number = block.header.number
        async with self._transaction():
            await self.db.execute(
                "INSERT INTO blocks (number, hash, block) VALUES (?, ?, ?)",
                (number, block.header.hash, block.SerializeToString()),
            )
            await self.db.executemany(
                "INSERT INTO extrinsics (block, idx, hash, data, receipt) VALUES (?, ?, ?, ?, ?)",
                [(number, idx, h, data, receipt) for idx, h, data, receipt in extrinsics],
            )
            await self.db.executemany(
                "INSERT OR REPLACE INTO state (key, block, value) VALUES (?, ?, ?)",
                [(key, number, value) for key, value in changes],
            )
            if self.keep_blocks and number % 64 == 0 and number > self.keep_blocks:
                await self._prune(number - self.keep_blocks)
        self._checkpoint_soon()

    async def _prune(self, cutoff: int) -> None:
        await self.db.execute(
            "DELETE FROM state WHERE block < :c AND EXISTS (SELECT 1 FROM state s2 WHERE "
            "s2.key = state.key AND s2.block > state.block AND s2.block <= :c)",
            {"c": cutoff},
        )
        await self.db.execute(
            "DELETE FROM state WHERE value IS NULL AND block <= :c AND NOT EXISTS (SELECT 1 "
            "FROM state s2 WHERE s2.key = state.key AND s2.block < state.block)",
            {"c": cutoff},
        )
        await self.db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_before', ?)",
            (str(cutoff).encode(),),
        )

    def _transaction(self) -> _Tx:
        return _Tx(self.db)

    # -- reads ---------------------------------------------------------------------------------
    async def head_number(self) -> int | None:
        async with self.db.execute("SELECT MAX(number) FROM blocks") as cur:
            row = await cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    async def get_block(self, number: int) -> pb.Block | None:
        async with self.db.execute("SELECT block FROM blocks WHERE number = ?", (number,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return _parse(pb.Block, row[0], f"block {number} in {self.path}")

    async def get_receipt(self, ext_hash: bytes) -> pb.Receipt | None:
        async with self.db.execute(
            "SELECT receipt FROM extrinsics WHERE hash = ?", (ext_hash,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return _parse(pb.Receipt, row[0], f"the receipt of {ext_hash.hex()} in {self.path}")

    async def block_extrinsics(self, number: int) -> list[tuple[bytes, pb.Receipt]]:
        """``(serialised Extrinsic, receipt)`` of block ``number`` in order."""
        async with self.db.execute(
            "SELECT data, receipt FROM extrinsics WHERE block = ? ORDER BY idx", (number,)
        ) as cur:
            rows = await cur.fetchall()
        out = []
        for idx, (data, raw) in enumerate(rows):
            where = f"the receipt of extrinsic {idx} of block {number} in {self.path}"
            out.append((bytes(data), _parse(pb.Receipt, raw, where)))
        return out

    async def iter_blocks(self, start: int) -> AsyncIterator[pb.Block]:
        number = start
        while True:
            block = await self.get_block(number)
            if block is None:
                return
            yield block
            number += 1

    async def pruned_before(self) -> int:
        raw = await self.get_meta("pruned_before")
        return int(raw) if raw else 0

    async def state_rows(self, at_block: int | None = None) -> list[tuple[str, bytes]]:
        """The state's key/value rows at the head, or as of block ``at_block``."""
        if at_block is not None and at_block < await self.pruned_before():
            raise chain_error(
                "block_pruned",
                f"state at block {at_block} is no longer kept (the chain keeps the last "
                f"{self.keep_blocks} blocks); query a more recent block",
            )
        limit = at_block if at_block is not None else 2**62
        async with self.db.execute(
            "SELECT key, value, MAX(block) FROM state WHERE block <= ? GROUP BY key", (limit,)
        ) as cur:
            rows = await cur.fetchall()
        return [(key, bytes(value)) for key, value, _ in rows if value is not None]


def _wal_has_data(db_path: Path) -> bool:
    wal = db_path.with_name(db_path.name + "-wal")
    return wal.is_file() and wal.stat().st_size > 0


class _Tx:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def __aenter__(self) -> None:
        await self.db.execute("BEGIN IMMEDIATE")

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            await self.db.execute("COMMIT")
        elif self.db.in_transaction:
            # Some errors (SQLITE_FULL, SQLITE_IOERR ...) already rolled the transaction back;
            # a failing ROLLBACK must not hide the error that says what happened.
            with contextlib.suppress(sqlite3.Error):
                await self.db.execute("ROLLBACK")

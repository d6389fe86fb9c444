"""The baselines of bench/chain.py: the same work done bare (raw SQLite, bare signature checks),
measured in the same run so the chain's figures are printed as ratios to them.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from subnetkit.chain.extrinsic import signing_payload
from subnetkit.chain.store import SCHEMA
from subnetkit.core.keys import verify
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def raw_insert_baseline(chain_db: Path, first: int, last: int, scratch: Path) -> float:
    """Insert the rows the chain wrote for blocks first..last into a fresh DB; seconds."""
    src = sqlite3.connect(f"file:{chain_db}?mode=ro", uri=True)
    per_block: dict[int, tuple[list[Any], list[Any], list[Any]]] = {}
    for number, hash_, block in src.execute(
        "SELECT number, hash, block FROM blocks WHERE number BETWEEN ? AND ?", (first, last)
    ):
        per_block[number] = ([(number, hash_, block)], [], [])
    for row in src.execute(
        "SELECT block, idx, hash, data, receipt FROM extrinsics WHERE block BETWEEN ? AND ?",
        (first, last),
    ):
        per_block[row[0]][1].append(row)
    for key, number, value in src.execute(
        "SELECT key, block, value FROM state WHERE block BETWEEN ? AND ?", (first, last)
    ):
        per_block[number][2].append((key, number, value))
    src.close()
    db = _connect(scratch)
    db.executescript(SCHEMA)
    start = time.perf_counter()
    for blocks, exts, states in per_block.values():
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO blocks (number, hash, block) VALUES (?, ?, ?)", blocks)
        db.executemany(
            "INSERT INTO extrinsics (block, idx, hash, data, receipt) VALUES (?, ?, ?, ?, ?)", exts
        )
        db.executemany("INSERT OR REPLACE INTO state (key, block, value) VALUES (?, ?, ?)", states)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def verify_baseline(exts: Sequence[pb.Extrinsic], genesis: bytes) -> float:
    start = time.perf_counter()
    for ext in exts:
        payload = signing_payload(genesis, ext.signer, ext.crypto, ext.nonce, ext.call)
        if not verify(ext.signer, payload, ext.signature, ext.crypto):
            raise RuntimeError("bench signature did not verify")
    return time.perf_counter() - start


def raw_select_baseline(chain_db: Path, netuid: int, reps: int) -> float:
    db = sqlite3.connect(f"file:{chain_db}?mode=ro", uri=True)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for table in ("neuron", "hstake"):
            lo, hi = f"{table}/{netuid}/", f"{table}/{netuid}0"  # '0' sorts right after '/'
            rows = db.execute(
                "SELECT key, value, MAX(block) FROM state WHERE key >= ? AND key < ? GROUP BY key",
                (lo, hi),
            ).fetchall()
            assert rows or table == "hstake"
        times.append(time.perf_counter() - start)
    db.close()
    return statistics.median(times)


def sqlite_delta_baseline(chain_db: Path, block: int, scratch: Path) -> tuple[float, int]:
    src = sqlite3.connect(f"file:{chain_db}?mode=ro", uri=True)
    rows = src.execute("SELECT key, block, value FROM state WHERE block = ?", (block,)).fetchall()
    src.close()
    db = _connect(scratch)
    db.executescript(SCHEMA)
    start = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT OR REPLACE INTO state (key, block, value) VALUES (?, ?, ?)", rows)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed, len(rows)

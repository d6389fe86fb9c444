"""Storage faults say what happened, once: at start where they can be found at start, as a typed
code (``state_corrupt``, ``storage_full``, ``data_dir_locked``, a ConfigError) and never as
``internal`` after a traceback; and a chain that hit one while running still answers reads."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
import pytest

from subnetkit.chain import extrinsic
from subnetkit.chain.service import ChainService
from subnetkit.chain.store import DB_NAME
from subnetkit.cli import main
from subnetkit.core.errors import ChainError, ConfigError
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, running_chain

S = grpc.StatusCode


async def _make_chain(data_dir: Path, blocks: int = 3) -> None:
    async with running_chain(data_dir) as chain:
        for _ in range(blocks):
            await chain.client.transfer(chain.alice, chain.bob.ss58, TAO)


async def _refused_at_start(data_dir: Path) -> ChainError:
    service = ChainService(data_dir, manual=True)
    with pytest.raises(ChainError) as info:
        await service.start()
    await service.shutdown()
    return info.value


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_zero_byte_database_is_refused_not_a_new_genesis(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "chain"
    data_dir.mkdir()
    (data_dir / DB_NAME).touch()
    err = await _refused_at_start(data_dir)
    assert err.code == "state_corrupt" and "empty file" in err.message
    assert (data_dir / DB_NAME).stat().st_size == 0  # nothing was written into it
    _no_tracebacks(caplog)


async def test_emptied_blocks_table_is_state_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "chain"
    await _make_chain(data_dir)
    with sqlite3.connect(data_dir / DB_NAME) as db:
        db.execute("DELETE FROM blocks")
    err = await _refused_at_start(data_dir)
    assert err.code == "state_corrupt" and "no blocks" in err.message
    _no_tracebacks(caplog)


async def test_overwritten_pages_are_state_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "chain"
    await _make_chain(data_dir)
    path = data_dir / DB_NAME
    raw = bytearray(path.read_bytes())
    page = int.from_bytes(raw[16:18], "big")
    raw[page:] = bytes([0xA5]) * (len(raw) - page)  # every page after the first
    path.write_bytes(raw)
    err = await _refused_at_start(data_dir)
    assert err.code == "state_corrupt" and "damaged" in err.message
    _no_tracebacks(caplog)


async def test_disk_full_while_writing_a_block_is_storage_full_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with running_chain(tmp_path / "chain", automine=False) as chain:
        await chain.produce(2)
        store = chain.service.node.store
        # SQLite's own "database or disk is full" (SQLITE_FULL): no more pages may be added.
        async with store.db.execute("PRAGMA page_count") as cur:
            (pages,) = await cur.fetchone()  # type: ignore[misc]
        await store.db.execute(f"PRAGMA max_page_count = {pages}")
        genesis = await chain.client.genesis_hash()
        nonce = await chain.client.nonce(chain.alice.ss58)
        padded = [extrinsic.build(chain.alice, nonce + i, _big_call(), genesis) for i in range(40)]
        results = await chain.client.submit_batch(padded, wait=False)
        assert not any(r.error_code for r in results)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await chain.client.stub.ProduceBlocks(_produce(), timeout=30)
        assert info.value.code() == S.RESOURCE_EXHAUSTED
        assert "storage_full" in (info.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as again:  # halted: says it again, same code
            await chain.client.stub.ProduceBlocks(_produce(), timeout=30)
        assert "storage_full" in (again.value.details() or "")
        # still serving reads
        head = await chain.client.head()
        assert head.number == 2 and await chain.client.balance(chain.bob.ss58) > 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "storage_full" in errors[0].getMessage(), errors
    _no_tracebacks(caplog)


def _produce() -> pb.ProduceBlocksRequest:
    return pb.ProduceBlocksRequest(count=1)


def _big_call() -> pb.Call:
    uids = [2**28 + i for i in range(8000)]
    return pb.Call(set_weights=pb.SetWeights(netuid=999, uids=uids, weights=[1] * len(uids)))


async def test_second_chain_on_one_data_dir_refuses_naming_the_holder(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    async with running_chain(data_dir) as first:
        err = await _refused_at_start(data_dir)
        assert err.code == "data_dir_locked" and f"pid {os.getpid()}" in err.message
        assert (await first.client.transfer(first.alice, first.bob.ss58, TAO)).success
    async with running_chain(data_dir) as again:  # released on close: a restart works
        assert again.service.head.number >= 1


def test_replay_of_a_missing_path_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no" / "such" / "chain"
    code = main(["--log-level", "WARNING", "chain", "replay", "--data-dir", str(missing)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and str(missing) in err[0], err
    assert not (tmp_path / "no").exists()


_START = """
import asyncio, sys
from subnetkit.chain import extrinsic
from subnetkit.chain.service import ChainService
from subnetkit.core.errors import SubnetkitError
async def go():
    service = ChainService(sys.argv[1], manual=True)
    try:
        await service.start()
    except SubnetkitError as exc:
        print(type(exc).__name__, exc.code, exc.message)
    else:
        print("started")
    await service.shutdown()
asyncio.run(go())
"""


def test_read_only_database_is_found_at_start() -> None:
    # Root ignores file modes (CAP_DAC_OVERRIDE), so as root the start runs without it.
    base = Path(tempfile.mkdtemp(prefix="ro-chain-"))
    try:
        data_dir = base / "chain"
        asyncio.run(_make_chain(data_dir, blocks=1))
        for path in (base, data_dir):
            path.chmod(0o777)
        (data_dir / "LOCK").chmod(0o666)
        (data_dir / DB_NAME).chmod(0o444)
        root = os.geteuid() == 0

        def drop() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            pr_capbset_drop, cap_dac_override = 24, 1
            if libc.prctl(pr_capbset_drop, cap_dac_override, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

        out = subprocess.run(
            [sys.executable, "-c", _START, str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=drop if root else None,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        )
        assert out.stdout.startswith("ConfigError"), (out.stdout, out.stderr)
        assert "cannot write" in out.stdout and "Traceback" not in out.stderr
    finally:
        for path in base.rglob("*"):
            path.chmod(0o777 if path.is_dir() else 0o666)
        shutil.rmtree(base, ignore_errors=True)


async def test_config_error_for_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    service = ChainService(not_a_dir, manual=True)
    with pytest.raises(ConfigError):
        await service.start()
    await service.shutdown()

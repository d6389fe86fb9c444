"""Storage faults met while answering a read are typed (``state_corrupt`` as DATA_LOSS, or the
storage error the start-time checks use), logged once in one line without a traceback, and the
chain goes on answering other requests."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import grpc
import pytest

from subnetkit.chain.store import DB_NAME
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import TAO, ChainHarness, running_chain

S = grpc.StatusCode


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def _status(chain: ChainHarness, method: str, request: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await getattr(chain.client.stub, method)(request, timeout=10)
    return info.value


def _code(err: grpc.aio.AioRpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("x-chain-error", "")


async def _still_serving(chain: ChainHarness) -> None:
    assert (await chain.client.head()).number >= 3
    assert await chain.client.balance(chain.bob.ss58) > 0
    await chain.produce(1)


async def test_a_block_missing_from_the_store_is_state_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_chain(tmp_path / "chain") as chain:
        for _ in range(3):
            await chain.client.transfer(chain.alice, chain.bob.ss58, TAO)
        with sqlite3.connect(tmp_path / "chain" / DB_NAME) as db:
            db.execute("DELETE FROM blocks WHERE number = 2")
        for _ in range(2):  # the same fault twice: still one log line
            err = await _status(chain, "GetBlock", pb.GetBlockRequest(number=2))
            assert err.code() == S.DATA_LOSS and _code(err) == "state_corrupt", err
            assert "block 2" in (err.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as info:  # a replay does not skip the gap
            async for _ in chain.client.stub.StreamBlocks(
                pb.StreamBlocksRequest(from_block=1), timeout=10
            ):
                pass
        assert info.value.code() == S.DATA_LOSS and _code(info.value) == "state_corrupt"
        await _still_serving(chain)
    assert len([m for m in _errors(caplog) if "state_corrupt" in m]) == 1, _errors(caplog)
    _no_tracebacks(caplog)


async def test_a_stored_block_that_does_not_parse_is_state_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_chain(tmp_path / "chain") as chain:
        for _ in range(3):
            await chain.client.transfer(chain.alice, chain.bob.ss58, TAO)
        receipt = await chain.client.transfer(chain.alice, chain.bob.ss58, TAO)
        with sqlite3.connect(tmp_path / "chain" / DB_NAME) as db:
            db.execute("UPDATE blocks SET block = x'ffffffff' WHERE number = 1")
            db.execute(
                "UPDATE extrinsics SET receipt = x'0aff' WHERE hash = ?", (receipt.extrinsic_hash,)
            )
        err = await _status(chain, "GetBlock", pb.GetBlockRequest(number=1))
        assert err.code() == S.DATA_LOSS and _code(err) == "state_corrupt", err
        err = await _status(
            chain, "GetReceipt", pb.GetReceiptRequest(extrinsic_hash=receipt.extrinsic_hash)
        )
        assert err.code() == S.DATA_LOSS and _code(err) == "state_corrupt", err
        await _still_serving(chain)
    _no_tracebacks(caplog)


async def test_overwritten_pages_met_by_a_past_read_are_state_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_chain(tmp_path / "chain") as chain:
        for _ in range(3):
            await chain.client.transfer(chain.alice, chain.bob.ss58, TAO)
        path = tmp_path / "chain" / DB_NAME
        await chain.service.node.store.checkpoint_done()
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw = bytearray(path.read_bytes())
        page = int.from_bytes(raw[16:18], "big")
        raw[page:] = bytes([0xA5]) * (len(raw) - page)  # every page after the first
        path.write_bytes(raw)
        request = pb.GetAccountRequest(address=chain.bob.ss58, at_block=1)
        err = await _status(chain, "GetAccount", request)
        assert err.code() == S.DATA_LOSS and _code(err) == "state_corrupt", err
        assert (await chain.client.head()).number >= 3  # another RPC still answers
        assert await chain.client.balance(chain.bob.ss58) > 0
    _no_tracebacks(caplog)

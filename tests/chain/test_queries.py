"""Head queries: off the event loop but consistent with the blocks, and weights/bonds on the wire
as sparse u16 arrays that decode to the stored matrix."""

from __future__ import annotations

import asyncio
import functools
import random
import threading

import pytest
import torch

from subnetkit.chain import queries, sparse_wire
from subnetkit.chain.hyperparams import DEFAULTS
from subnetkit.chain.metagraph import Metagraph
from subnetkit.chain.records import Neuron, Subnet
from subnetkit.chain.state import State
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.testing import ChainHarness


def _dense(rows: list[tuple[tuple[int, int], ...] | None], n: int) -> list[list[int]]:
    out = [[0] * n for _ in range(n)]
    for i, row in enumerate(rows):
        for j, v in row or ():
            if j < n:
                out[i][j] = v
    return out


def test_sparse_rows_round_trip_to_the_dense_matrix() -> None:
    rng = random.Random(7)
    n = 50
    rows: list[tuple[tuple[int, int], ...] | None] = []
    for i in range(n):
        if i % 3 == 0:
            rows.append(None)
            continue
        cols = sorted(rng.sample(range(n + 5), rng.randrange(0, 12)))  # some past n: dropped
        rows.append(tuple((j, rng.choice([0, 1, 65535, rng.randrange(65536)])) for j in cols))
    wire = pb.SparseU16Matrix.FromString(sparse_wire.encode(rows, n).SerializeToString())
    assert sparse_wire.decode(wire, n).tolist() == _dense(rows, n)
    empty = sparse_wire.encode([None] * 3, 3)
    assert sparse_wire.decode(empty, 3).tolist() == [[0] * 3] * 3


def test_malformed_sparse_matrices_are_refused() -> None:
    good = sparse_wire.encode([((1, 5),), None], 2)
    bad_lengths = pb.SparseU16Matrix(n=2, row_lengths=good.row_lengths[:4], cols=good.cols)
    with pytest.raises(ValueError, match="malformed"):
        sparse_wire.decode(bad_lengths, 2)
    with pytest.raises(ValueError, match="n=2"):
        sparse_wire.decode(good, 3)
    outside = pb.SparseU16Matrix()
    outside.CopyFrom(good)
    outside.cols = (7).to_bytes(2, "little")
    with pytest.raises(ValueError, match="outside"):
        sparse_wire.decode(outside, 2)


@functools.cache
def _state(n: int, setters: int) -> State:
    state = State()
    state.put("subnet", (1,), Subnet(1, "ck", "hk", 0, dict(DEFAULTS), n=n, tao_in=1, alpha_in=1))
    rng = random.Random(0)
    for uid in range(n):
        state.put("neuron", (1, uid), Neuron(f"hk{uid}", "ck", 0, 0))
    for uid in range(setters):
        state.put("weights", (1, uid), tuple((j, rng.randrange(65536)) for j in range(n)))
        state.put("bonds", (1, uid), tuple((j, rng.randrange(65536)) for j in range(0, n, 3)))
    state.flush()
    return state


def test_metagraph_with_weights_at_n_4096_is_compact_and_exact() -> None:
    """64 validators' full rows at n = 4096 travel as sparse arrays (the dense repeated fields
    were ~10x larger) and decode to exactly what the state holds. How fast they build and
    decode is measured in bench/chain.py, not here."""
    n = 4096
    state = _state(n, 64)
    snap = queries.metagraph(state, 1, 1, b"h", True)
    raw = pb.MetagraphSnapshot.FromString(snap.SerializeToString())
    mg = Metagraph.from_proto(raw)
    assert len(snap.SerializeToString()) < 4_000_000
    for uid in (0, 31, 63):
        expected = [v for _, v in state.get("weights", (1, uid))]
        assert mg.weights_u16[uid].tolist() == expected
    assert int(mg.weights_u16[64:].abs().sum()) == 0
    bonds = state.get("bonds", (1, 5))
    assert [round(float(mg.B[5, j]) * 65535) for j, _ in bonds] == [v for _, v in bonds]
    sums = mg.W[:64].sum(dim=1)
    assert torch.allclose(sums, torch.ones(64), atol=1e-4)


async def test_head_queries_run_off_the_loop_and_hold_off_the_next_block(
    chain: ChainHarness,
) -> None:
    node = chain.service.node
    loop_thread = threading.get_ident()
    reading = threading.Event()
    release = threading.Event()

    def slow_read(state: State, number: int, block_hash: bytes) -> tuple[int, int, bytes]:
        reading.set()
        assert release.wait(10)
        return threading.get_ident(), number, block_hash

    head = node.head
    query = asyncio.create_task(node.query(0, slow_read))
    async with asyncio.timeout(10):
        await asyncio.to_thread(reading.wait, 10)
    # The loop is free while the query reads (this line runs), but no block may be applied
    # to the state it reads until it is done.
    producing = asyncio.create_task(chain.service.produce_block())
    done, _ = await asyncio.wait({producing}, timeout=0.3)
    assert not done, "a block was applied while a head query was reading the state"
    release.set()
    async with asyncio.timeout(10):
        thread, number, block_hash = await query
        block = await producing
    assert thread != loop_thread
    assert (number, block_hash) == (head.number, head.hash)
    assert block.header.number == head.number + 1


async def test_a_query_for_the_head_number_reads_that_block_if_a_block_lands_first(
    chain: ChainHarness,
) -> None:
    node = chain.service.node
    reading = threading.Event()
    release = threading.Event()

    def slow_read(state: State, number: int, block_hash: bytes) -> None:
        reading.set()
        assert release.wait(10)

    def where(state: State, number: int, block_hash: bytes) -> tuple[int, bytes]:
        return number, block_hash

    await chain.produce()  # at_block=0 means "the head", so name a block after genesis
    head = node.head
    holding = asyncio.create_task(node.query(0, slow_read))
    async with asyncio.timeout(10):
        await asyncio.to_thread(reading.wait, 10)
    # Queued behind the reader: first the next block, then a query naming today's head.
    producing = asyncio.create_task(chain.service.produce_block())
    await asyncio.sleep(0)
    numbered = asyncio.create_task(node.query(head.number, where))
    await asyncio.sleep(0)
    release.set()
    async with asyncio.timeout(10):
        await holding
        block = await producing
        number, block_hash = await numbered
    assert block.header.number == head.number + 1
    assert (number, block_hash) == (head.number, head.hash)


async def test_a_metagraph_with_weights_at_n_4096_does_not_stall_the_loop(
    chain: ChainHarness,
) -> None:
    """The whole round trip (query, wire, tensors) at n = 4096 with 64 validators' rows: the
    event loop, which also produces blocks and answers every other RPC, keeps ticking. It used
    to stop for over a second (the dense matrices built on the loop, and decoded there)."""
    big = _state(4096, 64)
    state = chain.service.node.state
    for table in ("subnet", "neuron", "weights", "bonds"):
        state.tables[table].update(big.tables[table])
    await chain.client.metagraph(1, with_weights=True)  # warm: torch import, channel
    loop = asyncio.get_running_loop()
    worst = 0.0
    ticking = True

    async def ticker() -> None:
        nonlocal worst
        last = loop.time()
        while ticking:
            await asyncio.sleep(0.005)
            now = loop.time()
            worst, last = max(worst, now - last), now

    task = asyncio.create_task(ticker())
    async with asyncio.timeout(30):
        mg = await chain.client.metagraph(1, with_weights=True)
    ticking = False
    await task
    assert mg.n == 4096 and int((mg.weights_u16[:64] > 0).sum()) > 60 * 4000
    assert worst < 0.5, f"the event loop stalled {worst:.3f} s"

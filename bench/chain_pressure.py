"""Chain under pressure, for ``bench/chain.py``: a burst of extrinsics, and past-block reads.

* **burst**: ``--burst`` pre-signed transfers (50,000 by default) from 64 funded accounts are
  submitted at once to a fresh chain, and blocks are produced until the pool is empty; every
  block is timed. Baseline, in the same run, with the same extrinsics (both chains share one
  genesis, so one signature serves both): a chain whose blocks are capped by count alone (the
  weight and time caps lifted: what the chain did before), whose first block held 8,192 of them.
  Reported: the longest and median block with caps, the longest without, and their ratio; and
  the time of a block of 100 transfers, the "normal" block the burst should stay near.
* **past reads**: a 20,000-account genesis. Blocks of 50 pre-signed transfers (submitted over
  gRPC, then produced) are made back to back in slices: alone (baseline), while 32 clients
  (``bench/chain_readers.py``, a process of its own, one connection each) loop ``GetAccount``
  at a past block under the chain's read share (``chain/read_share.py``), and with those
  readers and the share lifted (what reads did before it). The slices interleave (``ORDER``)
  so a shared machine's drift falls on every kind alike; medians. Reported: the block rate
  with readers over the rate alone (the goal: >= 0.8), the same with the share lifted, the
  reads answered per second during blocks beside those with no block being made, and reads
  refused as ``busy``. Also shown: what one past-block query cost before (rebuilding the whole
  state from its rows) beside what it costs now (reading the keys it needs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from subnetkit.chain import read_share
from subnetkit.chain.builder import BlockLimits
from subnetkit.chain.client import ChainClient
from subnetkit.chain.extrinsic import build
from subnetkit.chain.genesis import TAO, GenesisConfig, dev_genesis
from subnetkit.chain.past_state import PastState
from subnetkit.chain.service import ChainService
from subnetkit.chain.state import State
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb

BATCH = 1024
READERS = 32
#: slices of each kind in the past-reads section: blocks alone, with readers under the read
#: share, with readers and the share lifted (what reads did before it)
SLICES = 8
#: the order slices run in, repeated (each kind early and late alike)
ORDER = ("alone", "share", "unbounded", "unbounded", "share", "alone")
#: seconds the readers read with no block being made
IDLE_READ_S = 1.0


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _genesis(accounts: list[str], balance: int) -> GenesisConfig:
    base = dev_genesis(timestamp_ms=1_700_000_000_000)
    return dataclasses.replace(base, balances={**base.balances, **dict.fromkeys(accounts, balance)})


async def _submit(client: ChainClient, exts: list[pb.Extrinsic]) -> None:
    for start in range(0, len(exts), BATCH):
        results = await client.submit_batch(exts[start : start + BATCH], wait=False)
        bad = [r for r in results if r.error_code]
        if bad:
            raise RuntimeError(f"{len(bad)} refused: {bad[0].error_code} {bad[0].error_message}")


async def _drain(service: ChainService, count: int) -> list[float]:
    """Produce blocks until ``count`` extrinsics are included; each block's seconds."""
    times, included = [], 0
    while included < count:
        t0 = time.perf_counter()
        block = await service.produce_block()
        times.append(time.perf_counter() - t0)
        if not block.extrinsic_hashes and not len(service.node.pool):
            raise RuntimeError(f"pool drained with {count - included} missing")
        included += len(block.extrinsic_hashes)
    return times


async def _burst_on(
    root: Path, genesis: GenesisConfig, exts: list[pb.Extrinsic], uncapped: bool
) -> tuple[list[float], int]:
    service = ChainService(root, manual=True, genesis=genesis)
    async with service, ChainClient(service.address, timeout=300) as client:
        if uncapped:
            service.node.limits = BlockLimits(max_weight=10**18, max_apply_seconds=1e9)
        await _submit(client, exts)
        times = await _drain(service, len(exts))
        return times, int(service.head.number)


async def bench_burst(root: Path, count: int) -> dict[str, Any]:
    signers = [Signer.generate() for _ in range(64)]
    genesis = _genesis([s.ss58 for s in signers], 1000 * TAO)
    service = ChainService(root / "probe", manual=True, genesis=genesis)
    async with service:
        genesis_hash = service.node.genesis_hash
    dest = Signer.generate().ss58
    call = pb.Call(transfer=pb.Transfer(dest=dest, amount=1))
    per = count // len(signers)
    exts = [build(s, n, call, genesis_hash) for n in range(per) for s in signers]
    small_times, _ = await _burst_on(root / "small", genesis, exts[:100], uncapped=False)
    capped, _ = await _burst_on(root / "capped", genesis, exts, uncapped=False)
    legacy, _ = await _burst_on(root / "uncapped", genesis, exts, uncapped=True)
    return {
        "extrinsics": len(exts),
        "blocks": len(capped),
        "max_block_ms": _ms(max(capped)),
        "median_block_ms": _ms(statistics.median(capped)),
        "baseline_count_cap_blocks": len(legacy),
        "baseline_count_cap_max_block_ms": _ms(max(legacy)),
        "baseline_100_transfer_block_ms": _ms(small_times[0]),
        "ratio_max_block_vs_count_cap": round(max(capped) / max(legacy), 3),
        "ratio_max_block_vs_100_transfer_block": round(max(capped) / small_times[0], 2),
        "multi_second_blocks": sum(t >= 1.0 for t in capped),
    }


def _sign_blocks(
    service: ChainService, payers: list[Signer], nonces: dict[str, int], blocks: int
) -> list[list[pb.Extrinsic]]:
    """``blocks`` batches of one transfer from each of 50 payers, signed before any timing:
    what is measured is the chain taking them in, not this process signing them."""
    genesis = service.node.genesis_hash
    call = pb.Call(transfer=pb.Transfer(dest=payers[0].ss58, amount=1))
    batches = []
    for _ in range(blocks):
        exts = []
        for payer in payers[1:51]:
            nonce = nonces.get(payer.ss58, 0)
            nonces[payer.ss58] = nonce + 1
            exts.append(build(payer, nonce, call, genesis))
        batches.append(exts)
    return batches


async def _blocks_per_s(
    service: ChainService, client: ChainClient, batches: list[list[pb.Extrinsic]]
) -> float:
    """Batches per second, each submitted over gRPC, then included: normally in one block (a
    block the builder's time cap cut short is followed by another, and the batch counts once)."""
    t0 = time.perf_counter()
    for exts in batches:
        await _submit(client, exts)
        await _drain(service, len(exts))
    return len(batches) / (time.perf_counter() - t0)


async def _start_readers(address: str, block: int, who: list[str]) -> asyncio.subprocess.Process:
    readers = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("chain_readers.py")),
        address,
        str(block),
        *who,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert readers.stdout is not None
    assert (await readers.stdout.readline()).strip() == b"ready"
    return readers


async def _tell(readers: asyncio.subprocess.Process, line: str) -> list[int]:
    """Send ``go`` (no answer) or ``stop`` (answers ``<answered> <refused>``)."""
    assert readers.stdin is not None and readers.stdout is not None
    readers.stdin.write(line.encode() + b"\n")
    await readers.stdin.drain()
    if line != "stop":
        return []
    return [int(x) for x in (await readers.stdout.readline()).split()]


async def bench_past_reads(root: Path, accounts: int, blocks: int) -> dict[str, Any]:
    """Block rate alone, with 32 past-block readers, and with them and the read share lifted,
    in interleaved slices of ``blocks`` blocks (see the module docstring); medians."""
    payers = [Signer.generate() for _ in range(51)]
    others = [Signer.generate().ss58 for _ in range(accounts - len(payers))]
    genesis = _genesis([p.ss58 for p in payers] + others, 10 * TAO)
    # every block is kept: the readers' past block must outlive all the slices
    service = ChainService(root / "reads", manual=True, genesis=genesis, keep_blocks=100_000)
    async with service, ChainClient(service.address, timeout=300) as client:
        nonces: dict[str, int] = {}
        await _blocks_per_s(service, client, _sign_blocks(service, payers, nonces, 3))
        past = int(service.head.number) - 1
        slices = [_sign_blocks(service, payers, nonces, blocks) for _ in range(3 * SLICES)]
        readers = await _start_readers(service.address, past, others[:READERS])
        rates: dict[str, list[float]] = {"alone": [], "share": [], "unbounded": []}
        answered = {"share": 0, "unbounded": 0}
        loaded_s = {"share": 0.0, "unbounded": 0.0}
        refused = 0
        for i, batches in enumerate(slices):
            kind = ORDER[i % len(ORDER)]
            if kind == "alone":
                rates[kind].append(await _blocks_per_s(service, client, batches))
                continue
            service.node.reads.share = read_share.SHARE if kind == "share" else 1.0
            await _tell(readers, "go")
            t0 = time.perf_counter()
            rates[kind].append(await _blocks_per_s(service, client, batches))
            loaded_s[kind] += time.perf_counter() - t0
            got, busy = await _tell(readers, "stop")
            answered[kind] += got
            refused += busy
        service.node.reads.share = read_share.SHARE
        # reads with no block being made (after the share's window): what they get when idle
        await asyncio.sleep(read_share.BUSY_WINDOW_S)
        await _tell(readers, "go")
        await asyncio.sleep(IDLE_READ_S)
        idle_answered, _ = await _tell(readers, "stop")
        assert readers.stdin is not None
        readers.stdin.close()
        await readers.wait()
        rebuild_s, lookup_s = await _one_query_costs(service, past, others[5])
    solo, with_reads, unbounded = (statistics.median(rates[k]) for k in ORDER[:3])
    reads_during = answered["share"] / loaded_s["share"]
    reads_unbounded = answered["unbounded"] / loaded_s["unbounded"]
    reads_idle = idle_answered / IDLE_READ_S
    return {
        "accounts": accounts,
        "readers": READERS,
        "slices": f"{len(slices) // 3} of each ({blocks} blocks), in the order {ORDER}",
        "blocks_per_s_with_past_reads": round(with_reads, 2),
        "baseline_blocks_per_s_alone": round(solo, 2),
        "ratio_block_rate_with_reads_vs_alone": round(with_reads / solo, 2),
        "blocks_per_s_with_reads_share_lifted": round(unbounded, 2),
        "ratio_block_rate_share_lifted_vs_alone": round(unbounded / solo, 2),
        "past_reads_per_s_during_blocks": round(reads_during, 1),
        "past_reads_per_s_during_blocks_share_lifted": round(reads_unbounded, 1),
        "past_reads_per_s_chain_idle": round(reads_idle, 1),
        "ratio_reads_during_blocks_vs_idle": round(reads_during / reads_idle, 2),
        "past_reads_refused_busy": refused,
        "past_query_ms_now": _ms(lookup_s),
        "past_query_ms_whole_state_rebuild": _ms(rebuild_s),
        "ratio_rebuild_vs_now": round(rebuild_s / lookup_s, 1),
    }


async def _one_query_costs(service: ChainService, block: int, who: str) -> tuple[float, float]:
    """One past GetAccount's state work: the old whole-state rebuild vs the keyed read."""
    store = service.node.store
    t0 = time.perf_counter()
    rows = await store.state_rows(block)
    await asyncio.to_thread(State.from_rows, rows)
    rebuild_s = time.perf_counter() - t0

    def keyed(state: Any, number: int, block_hash: bytes) -> Any:
        assert isinstance(state, PastState)
        return state.get("acct", (who,))

    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        await service.node.query(block, keyed)
    return rebuild_s, (time.perf_counter() - t0) / reps

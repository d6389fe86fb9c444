"""Chain under pressure, for ``bench/chain.py``: a burst of extrinsics, and past-block reads.

* **burst**: ``--burst`` pre-signed transfers (50,000 by default) from 64 funded accounts are
  submitted at once to a fresh chain, and blocks are produced until the pool is empty; every
  block is timed. Baseline, in the same run, with the same extrinsics (both chains share one
  genesis, so one signature serves both): a chain whose blocks are capped by count alone (the
  weight and time caps lifted: what the chain did before), whose first block held 8,192 of them.
  Reported: the longest and median block with caps, the longest without, and their ratio; and
  the time of a block of 100 transfers, the "normal" block the burst should stay near.
* **past reads**: a 20,000-account genesis. Blocks of 50 transfers are produced back to back,
  first alone (baseline), then while 32 clients loop ``GetAccount`` at a past block; reported
  is the block rate with readers over the rate without, and the reads served per second. Also
  shown: what one past-block query cost before (rebuilding the whole state from its rows)
  beside what it costs now (reading the keys it needs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

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
#: 32 clients in their own process (as remote clients would be) looping GetAccount at a past
#: block until stdin closes; prints "reading" once all are connected, then the reads made
_READERS_SCRIPT = """
import asyncio, sys
from subnetkit.chain.client import ChainClient
address, block, who = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
async def main():
    stop, count, clients = asyncio.Event(), [0], [ChainClient(address, timeout=300) for _ in who]
    for c in clients:
        await c.__aenter__()
        await c.balance(who[0], at_block=block)
    async def read(c, w):
        while not stop.is_set():
            await c.balance(w, at_block=block)
            count[0] += 1
    tasks = [asyncio.create_task(read(c, w)) for c, w in zip(clients, who)]
    print("reading", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    await asyncio.gather(*tasks)
    print(count[0], flush=True)
    for c in clients:
        await c.__aexit__(None, None, None)
asyncio.run(main())
"""


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


async def _blocks_per_s(
    service: ChainService,
    client: ChainClient,
    payers: list[Signer],
    nonces: dict[str, int],
    blocks: int,
) -> float:
    """Blocks per second, each with one transfer from each of 50 payers (signed on the go)."""
    genesis = service.node.genesis_hash
    call = pb.Call(transfer=pb.Transfer(dest=payers[0].ss58, amount=1))
    t0 = time.perf_counter()
    for _ in range(blocks):
        exts = []
        for payer in payers[1:51]:
            nonce = nonces.get(payer.ss58, 0)
            nonces[payer.ss58] = nonce + 1
            exts.append(build(payer, nonce, call, genesis))
        await _submit(client, exts)
        block = await service.produce_block()
        assert len(block.extrinsic_hashes) == len(exts)
    return blocks / (time.perf_counter() - t0)


async def bench_past_reads(root: Path, accounts: int, blocks: int) -> dict[str, Any]:
    payers = [Signer.generate() for _ in range(51)]
    others = [Signer.generate().ss58 for _ in range(accounts - len(payers))]
    genesis = _genesis([p.ss58 for p in payers] + others, 10 * TAO)
    service = ChainService(root / "reads", manual=True, genesis=genesis)
    async with service, ChainClient(service.address, timeout=300) as client:
        nonces: dict[str, int] = {}
        await _blocks_per_s(service, client, payers, nonces, 3)  # warm up; make past blocks
        past = int(service.head.number) - 1
        alone = await _blocks_per_s(service, client, payers, nonces, blocks)

        readers = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _READERS_SCRIPT,
            service.address,
            str(past),
            *others[:READERS],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert readers.stdout is not None and readers.stdin is not None
        await readers.stdout.readline()  # "reading": every client is connected and reading
        t0 = time.perf_counter()
        with_reads = await _blocks_per_s(service, client, payers, nonces, blocks)
        elapsed = time.perf_counter() - t0
        readers.stdin.close()  # the readers stop at EOF and print how many reads they made
        served = int((await readers.stdout.readline()).decode() or 0)
        await readers.wait()
        reads_per_s = served / elapsed

        rebuild_s, lookup_s = await _one_query_costs(service, past, others[5])
    return {
        "accounts": accounts,
        "readers": READERS,
        "blocks_per_s_with_past_reads": round(with_reads, 2),
        "baseline_blocks_per_s_alone": round(alone, 2),
        "ratio_block_rate_with_reads_vs_alone": round(with_reads / alone, 2),
        "past_reads_per_s": round(reads_per_s, 1),
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

"""Chain benchmark: signed-extrinsic ingest, metagraph query latency, block apply time, and
the chain under pressure (block time under a burst, blocks during past-block reads).

Run: ``.venv/bin/python bench/chain.py [--quick] [--json] [--only pressure]``.

The pressure sections and their baselines are described in ``bench/chain_pressure.py``.

A real :class:`chain.service.ChainService` runs in this process (manual blocks, temp SQLite in
WAL mode, the service's defaults) and is driven over gRPC by :class:`chain.client.ChainClient`.
Every figure is printed beside a baseline measured in the same run, as a ratio:

* **ingest**: ``--extrinsics`` signed transfers from 64 genesis-funded accounts, signed
  beforehand (client work, reported separately), then submitted in ``SubmitExtrinsics`` batches
  of 1024 (the chain verifies every sr25519 signature, in a worker thread) and included by
  producing blocks; the rate is extrinsics included per second from the first submit to the
  commit of the last block. Baselines: (a) raw SQLite inserts of the same rows the chain wrote
  for those blocks (extrinsic rows with receipts + changed state rows, one transaction per
  block, same pragmas), (b) bare ``verify`` of the same signatures on one thread: the floor set
  by signature checking alone. The target is >= 2,000/s. torch (the epoch) is imported before
  the service starts, as a long-running chain would have it loaded.
* **metagraph**: ``GetMetagraph`` (lite, no weights) end to end through the client, including
  the decode into torch tensors, at n=256 and n=4096 (median of repeats). Baseline: a raw
  ``SELECT`` of the same rows (the subnet's neuron records and hotkey stakes, latest version of
  each key) from the chain's own SQLite file, without decoding.
* **block apply**: a subnet at n=4096 with 64 validators (stake + permits from a first epoch)
  that each set weights on all 4096 uids; then the epoch block is produced and timed (coinbase,
  gathering the epoch inputs from state, Yuma, storing outputs and bonds, the SQLite commit).
  Baseline: the bare ``chain.epoch.run_epoch_exact`` call (the chain's epoch of record) on the
  same inputs: what the block would cost if the pipeline around the epoch were free. Also shown:
  the block that includes the 64 weight extrinsics, and a raw SQLite commit of the epoch block's
  state delta.

How n=4096 is built: honestly, with signed extrinsics: Alice (sudo) raises ``max_allowed_uids``
to 4096 and ``max_registrations_per_block`` above it, then signs 4095 ``burned_register``
extrinsics with consecutive nonces, submitted in batches and included in one block. Tempo is set
so that epochs run only where the bench wants them (tempo = target block + netuid, as the chain
runs an epoch at block b when (b + netuid + 1) % (tempo + 1) == 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chain_baselines import (
    raw_insert_baseline,
    raw_select_baseline,
    sqlite_delta_baseline,
    verify_baseline,
)
from chain_pressure import bench_burst, bench_past_reads
from chain_setup import (
    SIGNERS,
    VALIDATORS,
    build_subnet,
    epoch_at_next_block,
    include_all,
    sign_many,
    submit_all,
)

from subnetkit.chain.client import ChainClient
from subnetkit.chain.extrinsic import build
from subnetkit.chain.genesis import TAO, dev_genesis
from subnetkit.chain.service import ChainService
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# -- ingest ---------------------------------------------------------------------------------------
async def bench_ingest(
    service: ChainService, client: ChainClient, signers: list[Signer], count: int, scratch: Path
) -> dict[str, Any]:
    genesis = await client.genesis_hash()
    dest = Signer.generate().ss58
    per = count // len(signers)
    t_sign = time.perf_counter()
    exts: list[pb.Extrinsic] = []
    for signer in signers:
        call = pb.Call(transfer=pb.Transfer(dest=dest, amount=1))
        exts.extend(sign_many(signer, 0, [call] * per, genesis))
    sign_s = time.perf_counter() - t_sign
    random.Random(7).shuffle(exts)  # arrival order across signers, nonces out of order too
    total = len(exts)

    first_block = int(service.head.number) + 1
    start = time.perf_counter()
    await submit_all(client, exts)
    submitted = time.perf_counter()
    blocks = await include_all(service, total)
    elapsed = time.perf_counter() - start
    last_block = int(blocks[-1].header.number)
    receipts = await client.receipt(blocks[-1].extrinsic_hashes[-1])
    assert receipts is not None and receipts.success, "last transfer did not succeed"
    assert await client.balance(dest) == total, "not every transfer was applied"

    db_path = service.node.store.path
    sql_s = await asyncio.to_thread(raw_insert_baseline, db_path, first_block, last_block, scratch)
    verify_s = await asyncio.to_thread(verify_baseline, exts, genesis)
    return {
        "extrinsics": total,
        "blocks": len(blocks),
        "included_per_s": round(total / elapsed, 1),
        "submit_s": round(submitted - start, 3),
        "blocks_s": round(elapsed - (submitted - start), 3),
        "client_sign_per_s": round(total / sign_s, 1),
        "baseline_sqlite_rows_per_s": round(total / sql_s, 1),
        "baseline_verify_per_s": round(total / verify_s, 1),
        "ratio_vs_sqlite": round(elapsed / sql_s, 2),
        "ratio_vs_verify": round(elapsed / verify_s, 2),
        "target_met": total / elapsed >= 2000,
    }


# -- metagraph ------------------------------------------------------------------------------------
async def bench_metagraph(
    service: ChainService, client: ChainClient, netuid: int, n: int, reps: int
) -> dict[str, Any]:
    mg = await client.metagraph(netuid)  # warm (torch import, channel)
    assert mg.n == n
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        await client.metagraph(netuid)
        times.append(time.perf_counter() - start)
    rpc = statistics.median(times)
    base = await asyncio.to_thread(raw_select_baseline, service.node.store.path, netuid, reps)
    return {
        "n": n,
        "median_ms": ms(rpc),
        "p90_ms": ms(sorted(times)[int(0.9 * (len(times) - 1))]),
        "baseline_raw_select_ms": ms(base),
        "ratio": round(rpc / base, 2),
    }


# -- block apply ----------------------------------------------------------------------------------
def bare_epoch(service: ChainService, netuid: int, block: int) -> tuple[float, float]:
    """(seconds to gather inputs from state, seconds in the epoch) for ``block``'s epoch."""
    from subnetkit.chain.epoch import run_epoch_exact
    from subnetkit.chain.transition.context import Ctx, EventSink
    from subnetkit.chain.transition.epoch_io import epoch_inputs

    ctx = Ctx(service.node.state, block, EventSink())
    sn = ctx.subnet(netuid)
    t0 = time.perf_counter()
    inputs, hp = epoch_inputs(ctx, sn, sn.pending_server + sn.pending_validator)
    t1 = time.perf_counter()
    run_epoch_exact(inputs, hp, device="cpu")
    return t1 - t0, time.perf_counter() - t1


async def bench_block_apply(
    service: ChainService,
    client: ChainClient,
    alice: Signer,
    netuid: int,
    hotkeys: list[Signer],
    scratch: Path,
    reps: int,
) -> dict[str, Any]:
    n = len(hotkeys)
    validators = hotkeys[1 : VALIDATORS + 1]
    genesis = await client.genesis_hash()
    nonce = await client.nonce(alice.ss58)
    stakes = [
        pb.Call(add_stake=pb.AddStake(netuid=netuid, hotkey=v.ss58, amount=(100 + i) * TAO))
        for i, v in enumerate(validators)
    ]
    await submit_all(client, sign_many(alice, nonce, stakes, genesis))
    await include_all(service, len(stakes))
    client.forget_nonce(alice.ss58)
    # First epoch: hands out validator permits by stake.
    await epoch_at_next_block(service, client, alice, netuid)
    t0 = time.perf_counter()
    await service.produce_block()
    first_epoch_s = time.perf_counter() - t0
    mg = await client.metagraph(netuid)
    permits = mg.validator_permit.tolist()
    assert all(permits[uid] for uid in range(1, VALIDATORS + 1)), "validators lack permits"

    rng = random.Random(11)
    uids = list(range(n))
    weight_exts = [
        build(
            v,
            0,
            pb.Call(
                set_weights=pb.SetWeights(
                    netuid=netuid, uids=uids, weights=[rng.randint(1, 65535) for _ in uids]
                )
            ),
            genesis,
        )
        for v in validators
    ]
    await submit_all(client, weight_exts)
    t0 = time.perf_counter()
    # Blocks are capped by weight and time: at n=4096 the 64 rows may take more than one.
    weight_blocks = await include_all(service, VALIDATORS)
    weights_block_s = time.perf_counter() - t0
    block = weight_blocks[0]
    receipt = await client.receipt(block.extrinsic_hashes[0])
    assert receipt is not None and receipt.success, receipt

    # Interleave the bare epoch and the epoch block, and keep medians: one-shot timings of a
    # 4096x4096 epoch on a shared 2-core machine swing by multiples.
    applies, epochs, gathers = [], [], []
    for _ in range(reps):
        await epoch_at_next_block(service, client, alice, netuid)
        epoch_block = int(service.head.number) + 1
        gather_s, epoch_s = await asyncio.to_thread(bare_epoch, service, netuid, epoch_block)
        t0 = time.perf_counter()
        block = await service.produce_block()
        applies.append(time.perf_counter() - t0)
        assert any(e.name == "EpochRun" for e in block.events), "the timed block ran no epoch"
        epochs.append(epoch_s)
        gathers.append(gather_s)
    apply_s, epoch_s = statistics.median(applies), statistics.median(epochs)
    delta_s, delta_rows = await asyncio.to_thread(
        sqlite_delta_baseline, service.node.store.path, epoch_block, scratch
    )
    return {
        "n": n,
        "validators": VALIDATORS,
        "epoch_block_ms": ms(apply_s),
        "baseline_bare_epoch_ms": ms(epoch_s),
        "ratio_vs_bare_epoch": round(apply_s / epoch_s, 2),
        "gather_inputs_ms": ms(statistics.median(gathers)),
        "repeats": reps,
        "baseline_sqlite_delta_commit_ms": ms(delta_s),
        "state_delta_rows": delta_rows,
        "weights_block_ms": ms(weights_block_s),
        "weights_blocks": len(weight_blocks),
        "first_epoch_block_ms": ms(first_epoch_s),
    }


# -- main -----------------------------------------------------------------------------------------
async def _throughput_sections(
    args: argparse.Namespace,
    root: Path,
    genesis: Any,
    signers: list[Signer],
    figures: dict[str, Any],
) -> None:
    """Ingest, metagraph and block-apply figures (everything but the pressure sections)."""
    alice = dev_signer("alice")
    big = 1024 if args.quick else 4096
    reps = 5 if args.quick else 20
    service = ChainService(root / "chain", manual=True, genesis=genesis)
    async with service, ChainClient(service.address, timeout=120) as client:
        figures["ingest"] = await bench_ingest(
            service, client, signers, args.extrinsics, root / "ingest.sqlite"
        )
        report("ingest", figures["ingest"])
        small, _ = await build_subnet(service, client, alice, 256)
        t0 = time.perf_counter()
        large, hotkeys = await build_subnet(service, client, alice, big)
        figures["build_large_subnet_s"] = round(time.perf_counter() - t0, 2)
        figures["metagraph"] = [
            await bench_metagraph(service, client, small, 256, reps),
            await bench_metagraph(service, client, large, big, reps),
        ]
        for entry in figures["metagraph"]:
            report(f"metagraph n={entry['n']}", entry)
        figures["block_apply"] = await bench_block_apply(
            service,
            client,
            alice,
            large,
            hotkeys,
            root / "delta.sqlite",
            2 if args.quick else 3,
        )
        report("block apply", figures["block_apply"])


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    # The service warms these imports (torch) in a worker thread at start; do it now so that
    # import does not compete with the ingest measurement for the GIL and the CPU.
    import subnetkit.chain.epoch
    import subnetkit.chain.transition.epoch_io  # noqa: F401

    signers = [Signer.generate() for _ in range(SIGNERS)]
    base = dev_genesis()
    genesis = dataclasses.replace(
        base, balances={**base.balances, **{s.ss58: 1000 * TAO for s in signers}}
    )
    figures: dict[str, Any] = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        root = Path(tmp)
        if args.only != "pressure":
            await _throughput_sections(args, root, genesis, signers, figures)
        figures["burst"] = await bench_burst(root / "burst", args.burst)
        report("burst (block time under a burst)", figures["burst"])
        figures["past_reads"] = await bench_past_reads(
            root / "past", 20_000, 10 if args.quick else 20
        )
        report("past-block reads during block production", figures["past_reads"])
    return figures


def report(name: str, doc: dict[str, Any]) -> None:
    print(f"{name}:")
    for key, value in doc.items():
        print(f"  {key:32s} {value}")
    sys.stdout.flush()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=1024, fewer repeats (~20 s)")
    parser.add_argument("--json", action="store_true", help="last stdout line: JSON figures")
    parser.add_argument("--extrinsics", type=int, default=0, help="ingest size (default 8192)")
    parser.add_argument("--burst", type=int, default=0, help="burst size (default 50000)")
    parser.add_argument(
        "--only", choices=["pressure"], help="run only the burst and past-read sections"
    )
    args = parser.parse_args(argv)
    if not args.extrinsics:
        args.extrinsics = 2048 if args.quick else 8192
    if not args.burst:
        args.burst = 10_000 if args.quick else 50_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    figures = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

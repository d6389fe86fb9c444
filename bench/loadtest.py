"""Harness benchmark: ``subnetkit loadtest``'s engine against a raw grpc.aio client, one core.

Run: ``.venv/bin/python bench/loadtest.py [--quick] [--json] [--concurrency 32] [--seconds 3]``.

One echo miner runs in a worker process (pinned to the last core when there are two or more).
This process, pinned to core 0, drives it in alternating slices:

* baseline: a bare grpc.aio client with ``concurrency`` workers, each signing the v1 request
  layout, sending raw bytes, verifying the miner's response signature and parsing the answer:
  the cryptography the protocol needs and nothing else;
* harness: ``run_loadtest`` in the closed model with the same concurrency against the same
  miner (``--target``): MinerClient, the engine, three HDR histograms, the timeline, status
  counts.

The figure is the harness's completed requests per second over the baseline's, the median over
slice pairs taken in ABBA order (goal: at least 0.9); beside it, each side's CPU per request and
their ratio, which a busy shared machine disturbs less than the rates. With ``--json`` the last
stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from subnetkit.core.keys import dev_signer
from subnetkit.core.lifecycle import install_event_loop_policy
from subnetkit.loadtest.runner import LoadTestOptions, build_requests, run_loadtest
from subnetkit.loadtest.schedule import plan_from_options
from subnetkit.loadtest.targets import process_swarm
from subnetkit.subnets.echo import echo_pb2
from subnetkit.validator.client import Target
from subnetkit.wire import protocol

ECHO = "/subnets.echo.v1.Echo/Echo"


async def raw_rate(
    target: Target, bodies: list[bytes], concurrency: int, seconds: float
) -> tuple[float, float]:
    """(requests/s, CPU µs per request) of the bare client (see the module docstring)."""
    import grpc

    signer = dev_signer("alice")
    done = 0
    async with grpc.aio.insecure_channel(target.endpoint) as channel:
        call = channel.unary_unary(ECHO)
        pool = itertools.cycle(bodies)
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < end:
                body = next(pool)
                body_hash = protocol.sha256(body)
                nonce = protocol.next_nonce()
                md = protocol.sign_request(
                    signer, method=ECHO, receiver=target.hotkey, body_hash=body_hash, nonce=nonce
                )
                pending = call(body, metadata=md, timeout=10)
                raw = await pending
                trailer = protocol.metadata_dict(await pending.trailing_metadata())
                message = protocol.response_message(
                    version=protocol.PROTOCOL_VERSION,
                    method=ECHO,
                    caller=signer.ss58,
                    request_hash=body_hash,
                    nonce=nonce,
                    response_hash=protocol.sha256(raw),
                    miner_crypto="sr25519",
                    miner=target.hotkey,
                )
                reason = protocol.check_response_trailer(
                    trailer, miner=target.hotkey, crypto="sr25519", message=message
                )
                if reason is not None:
                    raise RuntimeError(reason)
                echo_pb2.EchoResponse.FromString(raw)
                done += 1

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu_us = (time.process_time() - cpu) / max(done, 1) * 1e6
        return done / (time.perf_counter() - started), cpu_us


async def harness_rate(target: Target, concurrency: int, seconds: float) -> dict[str, Any]:
    plan = plan_from_options(
        concurrency=concurrency,
        rate=None,
        stages=None,
        duration=seconds,
        fanout=None,
        timeout=10.0,
        max_inflight=10_000,
    )
    options = LoadTestOptions(
        plan=plan, subnet="echo", targets=[f"{target.hotkey}@127.0.0.1:{target.port}"]
    )
    summary = await run_loadtest(options)
    if summary["errors"]:
        raise RuntimeError(f"harness errors: {summary['error_examples']}")
    return summary


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    cores = sorted(os.sched_getaffinity(0))
    swarm = await process_swarm("echo", None, 1, processes=1)
    try:
        target = swarm.targets[0]
        if len(cores) > 1:  # the miner on the last core, this process on the first
            for pid in _children():
                os.sched_setaffinity(pid, {cores[-1]})
        os.sched_setaffinity(0, {cores[0]})
        _, requests = build_requests(LoadTestOptions(plan=None, subnet="echo"))  # type: ignore[arg-type]
        bodies = [r.SerializeToString() for r in requests]
        await raw_rate(target, bodies, args.concurrency, 0.3)  # warm both paths
        await harness_rate(target, args.concurrency, 0.3)
        pairs = []
        cpu_per_req = []
        raw_cpu = []
        for i in range(args.slices):  # ABBA order: a drift in the machine's load cancels out
            if i % 2 == 0:
                theirs, cpu = await raw_rate(target, bodies, args.concurrency, args.seconds)
                summary = await harness_rate(target, args.concurrency, args.seconds)
            else:
                summary = await harness_rate(target, args.concurrency, args.seconds)
                theirs, cpu = await raw_rate(target, bodies, args.concurrency, args.seconds)
            pairs.append((summary["rps"], theirs))
            cpu_per_req.append(summary["harness"]["cpu_us_per_request"])
            raw_cpu.append(cpu)
    finally:
        await swarm.close()
    ratios = sorted(ours / theirs for ours, theirs in pairs)
    return {
        "bench": "loadtest",
        "concurrency": args.concurrency,
        "harness_rps": round(statistics.median(p[0] for p in pairs), 1),
        "raw_grpc_rps": round(statistics.median(p[1] for p in pairs), 1),
        "ratio_harness_vs_raw": round(statistics.median(ratios), 3),
        "harness_cpu_us_per_request": round(statistics.median(cpu_per_req), 1),
        "raw_cpu_us_per_request": round(statistics.median(raw_cpu), 1),
        # the CPU each needs per request, raw over harness: the rate ratio one core allows when
        # nothing else competes for it (a busy shared machine makes the rate ratio noisy)
        "cpu_ratio_raw_vs_harness": round(
            statistics.median(r / h for r, h in zip(raw_cpu, cpu_per_req, strict=True)), 3
        ),
        "pinned_to_one_core": True,
    }


def _children() -> list[int]:
    """PIDs of this process's children (the swarm worker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short slice pair")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--slices", type=int, default=10)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.slices = 1.0, 1
    install_event_loop_policy()
    figures = asyncio.run(bench(args))
    print(
        f"closed model, concurrency {figures['concurrency']}, one core: harness "
        f"{figures['harness_rps']:.0f} req/s, raw grpc.aio {figures['raw_grpc_rps']:.0f} req/s, "
        f"ratio {figures['ratio_harness_vs_raw']:.2f}x (goal >= 0.9); CPU per request: harness "
        f"{figures['harness_cpu_us_per_request']:.0f} µs, raw "
        f"{figures['raw_cpu_us_per_request']:.0f} µs, ratio "
        f"{figures['cpu_ratio_raw_vs_harness']:.2f}x"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

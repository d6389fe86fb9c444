"""Wire benchmark: subnetkit's miner + client against raw grpc.aio doing the same crypto.

Run: ``.venv/bin/python bench/wire.py [--quick] [--json] [--loop asyncio|uvloop]``.

Baseline (measured in the same run, same machine, same event loop kind): a bare grpc.aio unary
server and client that do exactly the cryptographic work the protocol requires and nothing else:
the client hashes the body and signs the v1 request layout (sr25519), the server verifies it,
parses the request, serializes the response and signs the v1 response layout, and the client
verifies that signature and parses the response. subnetkit adds everything else on top: metadata
shape checks, freshness, receiver, blacklist hook, replay cache, priority scheduler, per-caller
limits, deadline enforcement, Prometheus metrics, the fan-out client with its channel cache.

Miners run in a separate process (spawned before any gRPC object exists), the client in this
one, so both CPU cores are used and CPU per request is the sum over both processes. Figures are
printed as subnetkit/baseline ratios; with ``--json`` the last stdout line is one JSON object.

Two more sections run in the same invocation (``--only`` picks sections): what a *refused*
request costs a miner over a bare aborting handler (bench/wire_rejections.py), and TLS keyed by
hotkeys and mutual-TLS session mode over the plaintext signed wire (bench/wire_tls.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# The TLS section's mutual-TLS miner refuses clients without a certificate in the handshake, and
# gRPC core logs each refusal at INFO on stderr (as the CLI does, keep only its errors). Set
# before grpc loads; the spawned miner processes inherit it.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wire_load import load, median_pair, pct
from wire_peers import BaselineClient, MinerProcess, install_loop
from wire_rejections import bench_rejections, report_rejections
from wire_tls import bench_tls, report_tls


# -- measurement (pct, load, median_pair: bench/wire_load.py) ------------------------------
async def rounds(
    systems: dict[str, Callable[[], Awaitable[int]]], count: int, miners: MinerProcess
) -> dict[str, dict[str, float]]:
    """Fan-out rounds, alternating systems round by round so noise hits both alike."""
    for one_round in systems.values():
        await one_round()  # connect every channel first
    times: dict[str, list[float]] = {name: [] for name in systems}
    cpu: dict[str, float] = dict.fromkeys(systems, 0.0)
    failures: dict[str, int] = dict.fromkeys(systems, 0)
    for _ in range(count):
        for name, one_round in systems.items():
            cpu_client, cpu_miner = time.process_time(), miners.cpu()
            t0 = time.perf_counter()
            failures[name] += await one_round()
            times[name].append(time.perf_counter() - t0)
            cpu[name] += (time.process_time() - cpu_client) + (miners.cpu() - cpu_miner)
    return {
        name: {
            "rounds_per_s": count / sum(times[name]),
            "p50_ms": statistics.median(times[name]) * 1e3,
            "p99_ms": pct(times[name], 0.99) * 1e3,
            "cpu_ms_per_round": cpu[name] / count * 1e3,
            "failures": failures[name],
        }
        for name in systems
    }


async def bench_single(args: argparse.Namespace) -> dict[str, Any]:
    """One miner, closed-loop load at each concurrency: baseline vs subnetkit slice pairs."""
    from subnetkit.core.keys import dev_signer
    from subnetkit.subnets.echo import echo_pb2
    from subnetkit.validator.client import MinerClient, Target

    method = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
    request = echo_pb2.EchoRequest(text="bench", payload=os.urandom(args.payload))
    body = request.SerializeToString()
    signer = dev_signer("alice")
    miners = MinerProcess(1, args.loop)
    results: dict[str, Any] = {}
    try:
        (b_hotkey, b_port), (s_hotkey, s_port) = (
            miners.endpoints["baseline"][0],
            miners.endpoints["subnetkit"][0],
        )
        base = BaselineClient(signer)
        target = Target(s_hotkey, "127.0.0.1", s_port)
        async with MinerClient(signer, max_concurrency=max(args.concurrency)) as client:

            async def ours() -> bool:
                result = await client.query([target], method, request, timeout=10)
                return result[0].ok

            async def theirs() -> bool:
                return await base.call(b_hotkey, b_port, body)

            for c in args.concurrency:
                # Short interleaved slices, baseline then subnetkit, repeated: other work on a
                # noisy machine then hits both sides alike, and the median pair ratio filters
                # out the slices it hit hardest.
                pairs = []
                for _ in range(args.repeat):
                    base_fig = await load(theirs, c, args.seconds, miners)
                    ours_fig = await load(ours, c, args.seconds, miners)
                    pairs.append((base_fig, ours_fig))
                results[c] = median_pair(pairs)
        await base.close()
    finally:
        miners.stop()
    return results


async def bench_fanout(args: argparse.Namespace, count: int) -> dict[str, Any]:
    """Rounds of one query to ``count`` miners (all in one process), both systems alternating."""
    from subnetkit.core.keys import dev_signer
    from subnetkit.subnets.echo import echo_pb2
    from subnetkit.validator.client import MinerClient, Target

    method = echo_pb2.DESCRIPTOR.services_by_name["Echo"].methods_by_name["Echo"]
    request = echo_pb2.EchoRequest(text="bench", payload=os.urandom(args.payload))
    body = request.SerializeToString()
    signer = dev_signer("alice")
    miners = MinerProcess(count, args.loop)
    try:
        base = BaselineClient(signer)
        base_targets = miners.endpoints["baseline"]
        targets = [Target(h, "127.0.0.1", p) for h, p in miners.endpoints["subnetkit"]]
        async with MinerClient(signer, max_concurrency=count) as client:

            async def ours() -> int:
                results = await client.query(targets, method, request, timeout=30)
                return sum(not r.ok for r in results)

            async def theirs() -> int:
                oks = await asyncio.gather(*(base.call(h, p, body) for h, p in base_targets))
                return sum(not ok for ok in oks)

            out = await rounds({"baseline": theirs, "subnetkit": ours}, args.rounds, miners)
        await base.close()
    finally:
        miners.stop()
    return out


def summarize(single: dict[int, Any], fanout: dict[int, Any]) -> dict[str, Any]:
    """The flat figures for ``--json``; the headline ratios are the worst over concurrencies."""
    figures: dict[str, Any] = {}
    for c, pair in single.items():
        b, s = pair["baseline"], pair["subnetkit"]
        figures[f"baseline_rps_c{c}"] = round(b["rps"], 1)
        figures[f"subnetkit_rps_c{c}"] = round(s["rps"], 1)
        figures[f"throughput_ratio_c{c}"] = round(pair["throughput_ratio"], 3)
        figures[f"cpu_ratio_c{c}"] = round(pair["cpu_ratio"], 3)
        figures[f"baseline_cpu_ms_c{c}"] = round(b["cpu_ms_per_req"], 3)
        figures[f"subnetkit_cpu_ms_c{c}"] = round(s["cpu_ms_per_req"], 3)
        for q in ("p50_ms", "p99_ms"):
            figures[f"baseline_{q}_c{c}"] = round(b[q], 3)
            figures[f"subnetkit_{q}_c{c}"] = round(s[q], 3)
        figures[f"failures_c{c}"] = b["failures"] + s["failures"]
    cs = sorted(single)
    figures["throughput_ratio"] = round(min(figures[f"throughput_ratio_c{c}"] for c in cs), 3)
    figures["cpu_ratio"] = round(max(figures[f"cpu_ratio_c{c}"] for c in cs), 3)
    for n, pair in fanout.items():
        b, s = pair["baseline"], pair["subnetkit"]
        figures[f"fanout{n}_p50_ms"] = round(s["p50_ms"], 2)
        figures[f"fanout{n}_p99_ms"] = round(s["p99_ms"], 2)
        figures[f"fanout{n}_rounds_per_s"] = round(s["rounds_per_s"], 2)
        figures[f"baseline_fanout{n}_p50_ms"] = round(b["p50_ms"], 2)
        figures[f"baseline_fanout{n}_p99_ms"] = round(b["p99_ms"], 2)
        figures[f"baseline_fanout{n}_rounds_per_s"] = round(b["rounds_per_s"], 2)
        figures[f"fanout{n}_ratio"] = round(s["rounds_per_s"] / b["rounds_per_s"], 3)
        figures[f"fanout{n}_cpu_ratio"] = round(s["cpu_ms_per_round"] / b["cpu_ms_per_round"], 3)
        figures[f"fanout{n}_failures"] = b["failures"] + s["failures"]
    return figures


def report(figures: dict[str, Any], single: dict[int, Any], fanout: dict[int, Any]) -> None:
    print(
        "single miner, closed loop (miner in its own process; CPU = both processes; "
        "rows: the median of interleaved slice pairs)"
    )
    print(f"{'conc':>5} {'system':>10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}")
    for c, pair in single.items():
        for name in ("baseline", "subnetkit"):
            f = pair[name]
            print(
                f"{c:>5} {name:>10} {f['rps']:>9.1f} {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f} "
                f"{f['cpu_ms_per_req']:>11.3f}"
            )
        print(
            f"{'':>5} {'ratio':>10} {figures[f'throughput_ratio_c{c}']:>9.3f} "
            f"{'':>8} {'':>8} {figures[f'cpu_ratio_c{c}']:>11.3f}"
        )
    print("fan-out rounds (all miners in one process)")
    print(f"{'miners':>6} {'system':>10} {'rounds/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for n, pair in fanout.items():
        for name in ("baseline", "subnetkit"):
            f = pair[name]
            print(
                f"{n:>6} {name:>10} {f['rounds_per_s']:>9.2f} {f['p50_ms']:>8.2f} "
                f"{f['p99_ms']:>8.2f}"
            )
        print(f"{'':>6} {'ratio':>10} {figures[f'fanout{n}_ratio']:>9.3f}")
    print(
        f"subnetkit/baseline: throughput_ratio (worst concurrency) {figures['throughput_ratio']}"
        f" (target >= 0.8), cpu_ratio (worst) {figures['cpu_ratio']} (target <= 1.25)"
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if not args.only or "signed" in args.only:
        single = await bench_single(args)
        fanout = {n: await bench_fanout(args, n) for n in args.fanout}
        figures.update(summarize(single, fanout))
        report(figures, single, fanout)
    if not args.only or "rejections" in args.only:
        rejections = await bench_rejections(args)
        report_rejections(rejections)
        figures.update(rejections)
    if not args.only or "tls" in args.only:
        tls_figures = await bench_tls(args)
        report_tls(tls_figures)
        figures.update(tls_figures)
    figures["loop"] = args.loop
    figures["payload_bytes"] = args.payload
    return figures


def _default_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover
        return "asyncio"
    return "uvloop"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (~20 s)")
    parser.add_argument("--json", action="store_true", help="last stdout line: JSON figures")
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=_default_loop(),
        help="event loop for both processes and both systems (default: uvloop if installed)",
    )
    parser.add_argument("--payload", type=int, default=64, help="request payload bytes")
    parser.add_argument("--seconds", type=float, default=None, help="per load point")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved slices (median)")
    parser.add_argument("--rounds", type=int, default=None, help="fan-out rounds per size")
    parser.add_argument(
        "--slices",
        type=int,
        default=None,
        help="rejection and TLS sections: interleaved slice sets per figure (median ratio)",
    )
    parser.add_argument(
        "--slice-seconds", type=float, default=None, help="rejection and TLS sections: per slice"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--fanout", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("signed", "rejections", "tls"),
        help="run only these sections (default: all, in one run)",
    )
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (0.6 if args.quick else 1.2)
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.rounds = args.rounds or (5 if args.quick else 20)
    # Many short slices: on a shared machine the median of many pair ratios is steadier
    # than a few long slices (each pair's ratio cancels what hit both of its slices).
    args.slices = args.slices or (8 if args.quick else 24)
    args.slice_seconds = args.slice_seconds or (0.25 if args.quick else 0.3)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    install_loop(args.loop)
    figures = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

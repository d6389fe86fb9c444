"""Ray backend benchmark: what a miner host costs, and merged figures against one machine's.

Run: ``.venv/bin/python bench/ray.py [--quick] [--json] [--swarm 64] [--rate 200] [--seconds 5]``.

Three runs of the same open-model load (``--rate`` requests/s for ``--seconds`` against a
``--swarm`` of echo miners), each as ``subnetkit loadtest`` in a process of its own, in one go:

* baseline: ``--backend processes --swarm-processes 1``: the miners in one worker process, one
  generator (this machine, no Ray);
* ray-local: ``--backend ray`` with no address: a local one-node cluster on 127.0.0.1, one
  miner host with every miner, one load generator;
* ray-2-nodes: a two-node cluster on 127.0.0.1 (``subnetkit.testing.ray_cluster``) joined with
  ``--ray-hosts 2 --ray-strategy STRICT_SPREAD``: half the miners and a generator on each node,
  the two generators' histograms merged.

Per Ray run it prints each host's cost (resident memory with its code loaded, memory per miner,
CPU seconds per thousand requests and share of a core during the load) and the merged p50/p99
and rate as ratios to the baseline's. Every node here is this machine (2 cores, shared), so the
ratios say what Ray's placement and merging cost, not what more machines would buy. With
``--json`` the last stdout line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SUBNETKIT = str(Path(sys.executable).parent / "subnetkit")


def loadtest(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [SUBNETKIT, "loadtest", *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"loadtest {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def two_node_cluster() -> tuple[subprocess.Popen[bytes], str]:
    holder = subprocess.Popen(
        [sys.executable, "-m", "subnetkit.testing.ray_cluster", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    if not line:
        raise SystemExit(f"the two-node cluster did not start (exit {holder.wait()})")
    return holder, str(json.loads(line)["address"])


def figures(summary: dict[str, Any]) -> dict[str, Any]:
    lat = summary["latency_us"]
    out: dict[str, Any] = {
        "completed": summary["completed"],
        "errors": summary["errors"],
        "rps": summary["rps"],
        "p50_ms": lat["p50"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "generators": summary["workers"],
    }
    ray = summary.get("ray")
    if ray:
        out["nodes"] = len(ray["nodes"])
        out["hosts"] = [
            {
                "miners": h["miners"],
                "rss_base_mib": h["rss_base_mib"],
                "rss_mib": h["rss_mib"],
                "rss_per_miner_kib": h["rss_per_miner_kib"],
                "cpu_ms_per_1k_requests": round(
                    h["cpu_s"] / max(1, summary["completed"]) * len(ray["hosts"]) * 1e6, 1
                ),
                "cpu_share_of_core": h["cpu_share_of_core"],
            }
            for h in ray["hosts"]
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--swarm", type=int, default=64)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=5)
    opts = parser.parse_args()
    if opts.quick:
        opts.swarm, opts.seconds = 16, 2
    load = ["--swarm", str(opts.swarm), "--subnet", "echo", "--rate", str(opts.rate)]
    load += ["--duration", str(opts.seconds)]
    env_note = f"{os.cpu_count()} cores; every node is this machine"
    print(f"{opts.swarm} echo miners, {opts.rate:g} req/s for {opts.seconds:g} s ({env_note})")

    runs = {
        "baseline": figures(loadtest([*load, "--backend", "processes", "--swarm-processes", "1"]))
    }
    runs["ray-local"] = figures(loadtest([*load, "--backend", "ray"]))
    holder, address = two_node_cluster()
    try:
        spread = ["--ray-hosts", "2", "--ray-strategy", "STRICT_SPREAD"]
        runs["ray-2-nodes"] = figures(
            loadtest([*load, "--backend", "ray", "--ray-address", address, *spread])
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(120)

    base = runs["baseline"]
    for name, run in runs.items():
        line = (
            f"{name:12} {run['completed']:6d} done {run['errors']} errors  rps {run['rps']:7.1f}"
            f"  p50 {run['p50_ms']:6.2f} ms  p99 {run['p99_ms']:7.2f} ms"
        )
        if name != "baseline":
            run["vs_baseline"] = {
                "rps": round(run["rps"] / base["rps"], 3),
                "p50": round(run["p50_ms"] / base["p50_ms"], 3),
                "p99": round(run["p99_ms"] / base["p99_ms"], 3),
            }
            ratio = run["vs_baseline"]
            line += f"  (x{ratio['rps']} rps, x{ratio['p50']} p50, x{ratio['p99']} p99)"
        print(line)
        for host in run.get("hosts", []):
            print(
                f"    host: {host['miners']} miners, {host['rss_base_mib']} MiB with its code, "
                f"+{host['rss_per_miner_kib']} KiB per miner, "
                f"{host['cpu_ms_per_1k_requests']} ms CPU per 1k requests it served, "
                f"{host['cpu_share_of_core']:.0%} of a core"
            )
    if opts.json:
        print(json.dumps({"bench": "ray", "load": vars(opts), "runs": runs}))


if __name__ == "__main__":
    main()

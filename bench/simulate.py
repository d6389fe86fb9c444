"""Simulation benchmark: seconds per epoch at 256, 1,024 and 4,096 uids with 64 validators.

Run: ``.venv/bin/python bench/simulate.py [--quick] [--json] [--sizes 256,1024,4096]``.

Each size is one ``run_simulation`` of the echo subnet in a fresh process: the uids are the
subnet owner, 64 validators (32 honest, 16 lazy, 16 random) and the miners (good, random,
offline, slow, intermittent, in equal parts), so at 4,096 uids (the chain's cap per subnet)
there are 4,031 miners. Every honest validator asks every miner once per epoch (256 at a time)
and scores them with the subnet's scorer; all weights go on chain as signed extrinsics, and the
epoch runs Yuma over the full weight matrix.

Two modes per size: the trusted in-process transport (no request/response signatures: what an
economics simulation would use) and, up to ``--signed-max``, the full protocol, whose ratio is
the cost of the cryptography. The baseline printed beside them is the chain alone: the same
subnet with the same weights set and the same epochs, no miners queried (``honest`` validators
replaced by ``random`` ones), so the ratio says what the network on top of the chain costs.
With ``--json`` the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from subnetkit.simulate.runner import SimulationOptions, run_simulation

VALIDATORS = "honest=32,lazy=16,random=16"
CHAIN_ONLY = "random=48,lazy=16"
BEHAVIOURS = ("good", "random", "offline", "slow", "intermittent")


def miners_for(uids: int, validators: int = 64) -> str:
    count = uids - validators - 1
    share, extra = divmod(count, len(BEHAVIOURS))
    return ",".join(f"{b}={share + (1 if i < extra else 0)}" for i, b in enumerate(BEHAVIOURS))


async def one(uids: int, validators: str, trusted: bool, epochs: int) -> dict[str, Any]:
    started = time.perf_counter()
    doc = await run_simulation(
        SimulationOptions(
            subnet="echo",
            miners=miners_for(uids),
            validators=validators,
            epochs=epochs,
            trusted=trusted,
            timeout=5.0,
            slow_fraction=0.1,
            sample_size=256,
        )
    )
    seconds = [e["seconds"] for e in doc["per_epoch"]]
    return {
        "seconds_per_epoch": round(sum(seconds) / len(seconds), 3),
        "total_s": round(time.perf_counter() - started, 1),
        "ranking": doc["ranking"],
    }


def child(uids: int, mode: str, epochs: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--one", str(uids), "--mode", mode, "--epochs", str(epochs)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{mode} at {uids} failed: {done.stderr.strip().splitlines()[-3:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 uids, one epoch")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--sizes", default="256,1024,4096")
    parser.add_argument("--signed-max", type=int, default=1024, help="largest signed run")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="trusted", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        validators = CHAIN_ONLY if args.mode == "chain" else VALIDATORS
        row = asyncio.run(one(args.one, validators, args.mode != "signed", args.epochs))
        print(json.dumps(row))
        return
    if args.quick:
        args.sizes, args.epochs, args.signed_max = "256", 1, 256
    figures: dict[str, Any] = {"bench": "simulate", "validators": 64}
    print(f"{'uids':>6} {'chain only s':>13} {'trusted s':>10} {'ratio':>7} {'signed s':>9}")
    for uids in (int(s) for s in args.sizes.split(",")):
        base = child(uids, "chain", args.epochs)["seconds_per_epoch"]
        trusted = child(uids, "trusted", args.epochs)
        signed = child(uids, "signed", args.epochs) if uids <= args.signed_max else None
        figures[f"chain_only_s_per_epoch_n{uids}"] = base
        figures[f"trusted_s_per_epoch_n{uids}"] = trusted["seconds_per_epoch"]
        figures[f"ratio_trusted_vs_chain_only_n{uids}"] = round(
            trusted["seconds_per_epoch"] / base, 2
        )
        if signed is not None:
            figures[f"signed_s_per_epoch_n{uids}"] = signed["seconds_per_epoch"]
        print(
            f"{uids:>6} {base:>13.2f} {trusted['seconds_per_epoch']:>10.2f} "
            f"{trusted['seconds_per_epoch'] / base:>6.1f}x "
            f"{'-' if signed is None else format(signed['seconds_per_epoch'], '.2f'):>9}",
            flush=True,
        )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Soak: a whole network as real processes under steady load, with a chain restart and a miner
kill -9 in the middle, sampling every process's memory, open files, threads and asyncio tasks.

What it proves, for a neuron that must run for weeks:

* memory stays flat after warm-up: the least-squares slope of each process's resident memory
  (MiB per hour, over the samples of its current pid after warm-up) and the ratio of its
  memory at the end to its memory right after warm-up (the baseline, measured in this run);
* open files, threads and asyncio tasks do not climb (their end and max values);
* every neuron recovers *by itself*: after the chain is stopped and started again on the same
  port and data dir, every neuron's head block moves past the restart and every validator
  finishes rounds again; after a miner is killed with SIGKILL (and restarted, as systemd
  would), every validator gets its answers again. Nothing but the killed miner is restarted.
* errors: ERROR lines and tracebacks in each process's log, unexpected exits, failed rounds.

The load is the validators' own: one round per block (``--block-time``), each querying every
miner, scoring the answers and setting weights every few blocks, the way a subnet runs.

Usage: ``python bench/soak.py --minutes N [--miners 2] [--validators 1] [--block-time 0.5]
[--sample-s 10] [--out FILE] [--json]``. ``--out`` is rewritten with the figures so far at every
sample, so a long run that is stopped still leaves its partial figures. With ``--json`` the last
stdout line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from soak_stats import Sample, Track, count_errors, read_proc, scrape

from subnetkit.chain.client import ChainClient
from subnetkit.localnet.naming import plan_neurons
from subnetkit.localnet.provision import Network, provision
from subnetkit.localnet.runner import (
    LocalnetConfig,
    _block_time_arg,
    child_pythonpath,
    cli_command,
    neuron_argv,
)
from subnetkit.localnet.supervisor import Child, Supervisor

#: when (fraction of the run) the disruptions happen, and how long recovery may take
CHAIN_RESTART_AT = 0.35
MINER_KILL_AT = 0.6
WARMUP_FRACTION = 0.2
#: a neuron follows blocks again within a few reconnect delays (at most 10 s apart) of the chain
#: coming back; rounds never wait on a weight submission. Generous for a loaded 2-core machine.
RECOVERY_TIMEOUT_S = 45.0


def free_port() -> int:
    """A port free now, so the chain can come back on the same one after its restart."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Soak:
    """One soak run (see the module docstring)."""

    def __init__(self, args: argparse.Namespace, data_dir: Path) -> None:
        self.args = args
        self.data_dir = data_dir
        self.duration = args.minutes * 60.0
        self.warmup = max(WARMUP_FRACTION * self.duration, min(60.0, 0.3 * self.duration))
        self.sup = Supervisor(data_dir, grace=10.0)
        self.cfg = LocalnetConfig(
            subnet="echo",
            miners=args.miners,
            validators=args.validators,
            block_time=args.block_time,
            device="cpu",
            data_dir=data_dir,
        )
        self.chain_port = free_port()
        self.tracks: dict[str, Track] = {}
        self.children: dict[str, Child] = {}
        self.metrics_ports: dict[str, int] = {}
        self.log_offsets: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.error_lines: list[str] = []
        self.recoveries: list[dict[str, Any]] = []
        self.t0 = time.monotonic()
        self.net: Network | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- processes -------------------------------------------------------------------------------
    def chain_argv(self) -> list[str]:
        return [
            *cli_command(),
            "chain",
            "start",
            "--dev",
            "--port",
            str(self.chain_port),
            "--data-dir",
            str(self.data_dir / "chain"),
            "--block-time",
            _block_time_arg(self.args.block_time),
        ]

    async def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        """Start (or restart) ``name`` and wait until its ready file appears."""
        old = self.children.pop(name, None)
        if old is not None:
            self.sup.children.remove(old)
            self.tracks[name].restarts += 1
        child = await self.sup.spawn(name, argv, env=env)
        ready = await self.sup.wait_ready(child, 180.0)
        self.children[name] = child
        self.tracks.setdefault(name, Track(name))
        if ready.get("metrics_port"):
            self.metrics_ports[name] = int(ready["metrics_port"])
        return child

    async def up(self) -> None:
        await self.start("chain", self.chain_argv())
        address = f"127.0.0.1:{self.chain_port}"
        async with ChainClient(address, timeout=30.0) as client:
            plans = plan_neurons(self.cfg.miners, self.cfg.validators, ())
            self.net = await provision(
                client, plans, self.data_dir / "wallets", tempo=self.cfg.tempo
            )
        env = {"PYTHONPATH": child_pythonpath()}
        for role in ("miner", "validator"):
            for keys in (k for k in self.net.neurons if k.plan.role == role):
                argv = neuron_argv(self.cfg, self.net, keys, address, self.data_dir)
                argv += ["--set", "metrics.port=0"]
                await self.start(keys.name, argv, env)
        self.argv = {name: list(c.argv[:-2]) for name, c in self.children.items()}  # sans ready

    # -- sampling --------------------------------------------------------------------------------
    def sample(self) -> None:
        t = self.now()
        for name, child in self.children.items():
            track = self.tracks[name]
            proc = read_proc(child.pid) if child.alive else None
            if proc is None:
                continue
            tasks = None
            port = self.metrics_ports.get(name)
            if port is not None:
                tasks = scrape(port).get("subnetkit_asyncio_tasks")
            track.samples.append(Sample(t, child.pid, *proc, asyncio_tasks=tasks))
            errors, self.log_offsets[name], lines = count_errors(
                str(child.log_path), self.log_offsets.get(name, 0)
            )
            self.errors[name] = self.errors.get(name, 0) + errors
            self.error_lines += [f"{name}: {line}" for line in lines][: 20 - len(self.error_lines)]

    def metric(self, name: str, key: str) -> float:
        port = self.metrics_ports.get(name)
        return scrape(port).get(key, float("nan")) if port is not None else float("nan")

    def neurons(self, role: str | None = None) -> list[str]:
        return [n for n in self.children if n != "chain" and (role is None or role in n)]

    # -- disruptions -----------------------------------------------------------------------------
    async def wait_for(self, what: str, check: Any, started: float) -> dict[str, Any]:
        """Poll ``check()`` (bounded) until true; the recovery's record."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        ok = False
        while time.monotonic() < deadline:
            if await asyncio.to_thread(check):
                ok = True
                break
            await asyncio.sleep(0.5)
        record = {"what": what, "recovered": ok, "seconds": round(time.monotonic() - started, 1)}
        self.recoveries.append(record)
        print(f"  {what}: {'recovered' if ok else 'NOT recovered'} in {record['seconds']} s")
        return record

    async def restart_chain(self) -> None:
        print(f"[{self.now():.0f}s] restarting the chain (SIGTERM, then start on the same port)")
        chain = self.children["chain"]
        heads = {n: self.metric(n, "subnetkit_chain_head_block") for n in self.neurons()}
        rounds = {
            n: self.metric(n, "subnetkit_validator_rounds_total") for n in self.neurons("validator")
        }
        os.killpg(chain.pid, signal.SIGTERM)
        await asyncio.wait_for(chain.proc.wait(), 30)
        await asyncio.sleep(2.0)  # neurons notice the chain is gone
        started = time.monotonic()
        await self.start("chain", self.chain_argv())
        for name in self.neurons():
            await self.wait_for(
                f"{name} follows blocks after the chain restart",
                lambda n=name: self.metric(n, "subnetkit_chain_head_block") > heads[n] + 2,
                started,
            )
        for name in self.neurons("validator"):
            await self.wait_for(
                f"{name} finishes rounds after the chain restart",
                lambda n=name: self.metric(n, "subnetkit_validator_rounds_total") > rounds[n] + 2,
                started,
            )

    async def kill_miner(self) -> None:
        victim = self.neurons("miner")[0]
        print(f"[{self.now():.0f}s] kill -9 {victim}, then start it again (as systemd would)")
        child = self.children[victim]
        os.killpg(child.pid, signal.SIGKILL)
        await child.proc.wait()
        started = time.monotonic()
        await self.start(victim, self.argv[victim], {"PYTHONPATH": child_pythonpath()})
        for name in self.neurons("validator"):

            def all_answer(n: str = name) -> bool:
                queried = self.metric(n, "subnetkit_validator_queried")
                answered = self.metric(n, "subnetkit_validator_answered")
                return queried >= self.args.miners and answered == queried

            await self.wait_for(f"{name} gets every miner's answers again", all_answer, started)

    # -- the run ---------------------------------------------------------------------------------
    def figures(self, finished: bool) -> dict[str, Any]:
        processes = {n: t.summary(self.warmup) for n, t in self.tracks.items()}
        for name, doc in processes.items():
            doc["log_errors"] = self.errors.get(name, 0)
        validators = self.neurons("validator")
        slopes = [
            p["rss_slope_mib_per_hour"]
            for p in processes.values()
            if p.get("rss_slope_mib_per_hour") is not None
        ]
        return {
            "bench": "soak",
            "finished": finished,
            "minutes": self.args.minutes,
            "elapsed_s": round(self.now(), 1),
            "warmup_s": round(self.warmup, 1),
            "miners": self.args.miners,
            "validators": self.args.validators,
            "block_time_s": self.args.block_time,
            "max_rss_slope_mib_per_hour": max(slopes) if slopes else None,
            "max_rss_slope_note": ""
            if slopes
            else "no process had enough samples after warm-up for a slope; run longer",
            "all_recovered": bool(self.recoveries) and all(r["recovered"] for r in self.recoveries),
            "recoveries": self.recoveries,
            "rounds": {v: self.metric(v, "subnetkit_validator_rounds_total") for v in validators},
            "failed_rounds": {
                v: self.metric(v, "subnetkit_validator_failed_rounds_total") for v in validators
            },
            "unexpected_exits": sum(t.unexpected_exits for t in self.tracks.values()),
            "log_errors": sum(self.errors.values()),
            "error_lines": self.error_lines,
            "processes": processes,
        }

    def write_out(self, finished: bool) -> dict[str, Any]:
        doc = self.figures(finished)
        if self.args.out:
            tmp = Path(self.args.out + ".tmp")
            tmp.write_text(json.dumps(doc, indent=1, default=str))
            tmp.replace(self.args.out)
        return doc

    async def run(self) -> dict[str, Any]:
        await self.up()
        names = ", ".join(self.children)
        print(f"[{self.now():.0f}s] network up: {names}; warm-up {self.warmup:.0f} s")
        self.t0 = time.monotonic()  # the clock of the samples starts with the load
        events = [
            (CHAIN_RESTART_AT * self.duration, self.restart_chain),
            (MINER_KILL_AT * self.duration, self.kill_miner),
        ]
        next_print = 0.0
        # Every disruption happens, even when recovering from the one before ran past the planned
        # end (a loaded machine): a soak that skipped its miner kill would prove nothing about it.
        while self.now() < self.duration or events:
            self.sample()
            for name, child in self.children.items():
                if not child.alive:  # nothing here is expected to die on its own
                    self.tracks[name].unexpected_exits += 1
                    raise RuntimeError(f"{name} exited by itself; see {child.log_path}")
            if events and self.now() >= events[0][0]:
                _, action = events.pop(0)
                await action()
                continue
            if self.now() >= next_print:
                self.report_line()
                next_print = self.now() + max(60.0, self.args.sample_s)
            self.write_out(False)
            await asyncio.sleep(min(self.args.sample_s, max(0.1, self.duration - self.now())))
        self.sample()
        return self.write_out(True)

    def report_line(self) -> None:
        parts = []
        for name, track in self.tracks.items():
            if track.samples:
                s = track.samples[-1]
                tasks = "" if s.asyncio_tasks is None else f"/{s.asyncio_tasks:.0f}t"
                parts.append(f"{name} {s.rss_mib:.0f}MiB/{s.open_files}fd{tasks}")
        print(f"[{self.now():.0f}s] " + ", ".join(parts), flush=True)


def print_figures(doc: dict[str, Any]) -> None:
    print(f"soak over {doc['elapsed_s']:.0f} s (warm-up {doc['warmup_s']:.0f} s):")
    for name, p in doc["processes"].items():
        slope = p.get("rss_slope_mib_per_hour")
        ratio = p.get("rss_growth_ratio")
        print(
            f"  {name:12s} rss {p.get('rss_mib_after_warmup', '?')} -> {p.get('rss_mib_end')} MiB"
            f" (end/after-warm-up x{ratio}, slope {slope} MiB/h), fds max "
            f"{p.get('open_files_max')}, threads max {p.get('threads_max')}, tasks max "
            f"{p.get('asyncio_tasks_max', '-')}, restarts {p['restarts']}, "
            f"log errors {p['log_errors']}"
        )
    recovered = sum(r["recovered"] for r in doc["recoveries"])
    print(f"  recoveries: {recovered}/{len(doc['recoveries'])}")
    print(f"  rounds {doc['rounds']}, failed {doc['failed_rounds']}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="subnetkit-soak-"))
    soak = Soak(args, data_dir)
    clean = False
    try:
        doc = await soak.run()
        clean = doc["all_recovered"] and not doc["log_errors"]
        return doc
    finally:
        if not clean:
            with contextlib.suppress(Exception):
                soak.write_out(False)
        await soak.sup.stop(names_last=("chain",))
        if clean:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"logs kept in {data_dir / 'logs'}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--miners", type=int, default=2)
    parser.add_argument("--validators", type=int, default=1)
    parser.add_argument("--block-time", type=float, default=0.5)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--out", default=None, help="rewrite this JSON file with the figures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    doc = asyncio.run(main_async(args))
    print_figures(doc)
    if args.json:
        print(json.dumps(doc, default=str))
    sys.exit(0 if doc["all_recovered"] and not doc["unexpected_exits"] else 1)


if __name__ == "__main__":
    main()

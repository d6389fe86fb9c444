"""``--workers K``: the load spread over K generator processes, their histograms merged.

One event loop is one core: past it the harness, not the miners, sets the pace. With ``--workers
K`` (gRPC targets only: in-process miners live inside the harness) each of K processes runs the
same plan at 1/K of the rate (or of the concurrency) against the same miners, signs with the same
hotkey on its own nonce lane (so no two of them ever send the same nonce), and hands back its
:class:`~subnetkit.loadtest.recorder.Recorder` as HdrHistogram blobs. The parent adds them up:
one set of percentiles over every request, as if one generator had sent them all.

``python -m subnetkit.loadtest.workers`` is the worker: it reads its job as one JSON object on
stdin and prints one JSON line (the recorder, its CPU and wall seconds) when done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from typing import Any

from subnetkit.core.errors import ConfigError
from subnetkit.loadtest.engine import Engine
from subnetkit.loadtest.recorder import Recorder
from subnetkit.loadtest.schedule import LoadPlan, Stage


def split_plan(plan: LoadPlan, workers: int) -> list[LoadPlan]:
    """Each worker's share: 1/K of the rate and stage targets, or of the concurrency."""
    if plan.is_open:
        return [
            dataclasses.replace(
                plan,
                rate=None if plan.rate is None else plan.rate / workers,
                stages=tuple(Stage(s.seconds, s.target / workers) for s in plan.stages),
                max_inflight=max(1, plan.max_inflight // workers),
            )
            for _ in range(workers)
        ]
    if plan.concurrency < workers:
        raise ConfigError(
            f"--workers {workers} needs --concurrency of at least {workers} (one each)"
        )
    share, extra = divmod(plan.concurrency, workers)
    return [
        dataclasses.replace(plan, concurrency=share + (1 if i < extra else 0))
        for i in range(workers)
    ]


def plan_to_json(plan: LoadPlan) -> dict[str, Any]:
    data = dataclasses.asdict(plan)
    data["stages"] = [[s.seconds, s.target] for s in plan.stages]
    return data


def plan_from_json(data: dict[str, Any]) -> LoadPlan:
    stages = tuple(Stage(float(a), float(b)) for a, b in data.pop("stages"))
    return LoadPlan(stages=stages, **data)


async def run_workers(job: dict[str, Any], plan: LoadPlan, workers: int) -> dict[str, Any]:
    """Start the workers, wait for all (bounded), merge: (recorder, wall_s, cpu_s, end)."""
    procs = []
    for lane, share in enumerate(split_plan(plan, workers)):
        mine = {**job, "plan": plan_to_json(share), "lane": lane, "lanes": workers}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "subnetkit.loadtest.workers",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        procs.append((proc, json.dumps(mine).encode()))
    limit = plan.duration_s + plan.timeout_s + 120.0  # start-up, the run, the drain
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate(data) for p, data in procs)), limit
        )
    finally:
        for proc, _ in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    reports = []
    for (proc, _), (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0 or not out.strip():
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ConfigError(f"a load worker failed (exit {proc.returncode}): {last[0]}")
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return merge_reports(reports, plan)


def merge_reports(reports: list[dict[str, Any]], plan: LoadPlan) -> dict[str, Any]:
    """Add up what :func:`run_share` returned from each generator (a process or a Ray actor):
    one recorder, the longest wall time, the CPU of all of them."""
    merged = Recorder(plan.duration_s)
    wall = cpu = 0.0
    reasons = set()
    for report in reports:
        merged.merge(Recorder.from_wire(report["recorder"], plan.duration_s))
        wall, cpu = max(wall, report["wall_s"]), cpu + report["cpu_s"]
        reasons.add(report["end_reason"])
    end = "interrupted" if "interrupted" in reasons else "normal"
    return {"recorder": merged, "wall_s": wall, "cpu_s": cpu, "end_reason": end}


async def run_share(job: dict[str, Any]) -> dict[str, Any]:
    """One generator's share: ``job`` names the request, targets, signer, plan and nonce lane;
    returns its recorder (as blobs), wall and CPU seconds and end reason."""
    from subnetkit.loadtest.runner import LoadTestOptions, build_requests, make_send, signer_from
    from subnetkit.loadtest.targets import parse_target
    from subnetkit.validator.client import MinerClient
    from subnetkit.wire.protocol import lane_clock

    plan = plan_from_json(job["plan"])
    options = LoadTestOptions(
        plan=plan, subnet=job["subnet"], method=job["method"], request_json=job["request_json"]
    )
    spec, requests = build_requests(options)
    targets = [parse_target(t) for t in job["targets"]]
    client = MinerClient(
        signer_from(job["signer"]),
        max_concurrency=max(plan.max_inflight, plan.concurrency) * plan.fanout,
        max_channels=len(targets) + 1,
        nonce_clock=lane_clock(job["lane"], job["lanes"]),
    )
    recorder = Recorder(plan.duration_s)
    async with client:
        engine = Engine(plan, make_send(client, targets, spec, requests, plan), recorder)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        end = await engine.run()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"recorder": recorder.to_wire(), "wall_s": wall, "cpu_s": cpu, "end_reason": end}


def main() -> None:
    from subnetkit.core.lifecycle import install_event_loop_policy

    job = json.loads(sys.stdin.read())
    install_event_loop_policy()
    print(json.dumps(asyncio.run(run_share(job))), flush=True)


if __name__ == "__main__":
    main()


__all__ = [
    "merge_reports",
    "plan_from_json",
    "plan_to_json",
    "run_share",
    "run_workers",
    "split_plan",
]

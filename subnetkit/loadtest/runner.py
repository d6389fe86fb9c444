"""One load test from one set of options: targets, request, client, engine, figures.

The CLI builds :class:`LoadTestOptions` from its flags and calls :func:`run_loadtest`; tests and
benches call it directly. Requests come from the subnet's own validator (``make_task`` then
``build_request``, a pool of 64 built up front so building costs nothing during the run) or
from ``request_json``; every request is signed afresh by a ``MinerClient``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.core.subnet_spec import build_component, resolve_subnet
from subnetkit.loadtest.engine import Engine, Outcome
from subnetkit.loadtest.recorder import Recorder
from subnetkit.loadtest.schedule import LoadPlan
from subnetkit.loadtest.summary import build_summary
from subnetkit.loadtest.targets import (
    TargetSet,
    inprocess_swarm,
    process_swarm,
    remote_targets,
    split_subnet,
)
from subnetkit.loadtest.thresholds import Threshold, evaluate
from subnetkit.loadtest.workers import run_workers
from subnetkit.validator.client import MinerClient, Target
from subnetkit.wire.methods import MethodSpec, resolve_method

REQUEST_POOL = 64


@dataclass
class LoadTestOptions:
    """What to load and how; see ``subnetkit loadtest --help`` for each field's flag."""

    plan: LoadPlan
    subnet: str | None = None  # NAME[:VARIANT]
    swarm: int | None = None
    backend: str = "inprocess"
    swarm_processes: int | None = None
    targets: list[str] = field(default_factory=list)
    method: str | None = None
    request_json: str | None = None
    #: who signs: ``["dev", "alice"]`` or ``["wallet", name, hotkey, path]`` (workers load it too)
    signer_ref: list[str] = field(default_factory=lambda: ["dev", "alice"])
    thresholds: list[Threshold] = field(default_factory=list)
    workers: int = 1  # load-generator processes (gRPC targets only)
    ray_address: str | None = None  # --backend ray: join this cluster (None: start a local one)
    ray_hosts: int | None = None  # --backend ray: miner hosts, each with a load generator
    ray_strategy: str = "SPREAD"  # --backend ray: how the placement group spreads them


@dataclass
class LiveRun:
    """What a progress display may read while the run goes on."""

    recorder: Recorder
    engine: Engine
    plan: LoadPlan


def signer_from(ref: list[str]) -> Signer:
    """The signing key a ``signer_ref`` names (see :class:`LoadTestOptions`)."""
    if ref[0] == "dev":
        return dev_signer(ref[1])
    from subnetkit.core.wallet import load_hotkey

    return load_hotkey(ref[1], ref[2], path=ref[3])


def _validator(subnet: str) -> Any:
    spec = resolve_subnet(subnet, role="validator")
    from subnetkit.core.settings import load_settings

    return build_component(spec.class_for("validator"), load_settings(), None)


def build_requests(options: LoadTestOptions) -> tuple[MethodSpec, list[Message]]:
    """The synapse and the request pool (see the module docstring)."""
    subnet = split_subnet(options.subnet)[0] if options.subnet else None
    validator = (
        _validator(subnet) if subnet and not (options.method and options.request_json) else None
    )
    if options.method:
        spec = resolve_method(options.method)
    elif validator is not None:
        spec = resolve_method(validator.method)
    else:
        raise ConfigError("say what to call: --subnet NAME (its validator's synapse) or --method")
    if options.request_json is not None:
        text = options.request_json
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError as exc:
                raise ConfigError(f"--request-json {text}: cannot read it: {exc}") from None
        try:
            request = json_format.Parse(text, spec.request_cls())
        except (json_format.ParseError, ValueError) as exc:
            name = spec.request_cls.DESCRIPTOR.full_name
            raise ConfigError(f"--request-json is not a {name} in JSON: {exc}") from None
        return spec, [request]
    if validator is None:
        raise ConfigError("--method needs --request-json (or use --subnet for its validator's)")
    requests = [validator.build_request(validator.make_task(seed)) for seed in range(REQUEST_POOL)]
    return spec, requests


async def open_targets(options: LoadTestOptions) -> TargetSet:
    if options.targets:
        if options.swarm:
            raise ConfigError("--swarm starts miners, --target names existing ones: pick one")
        return await remote_targets(options.targets)
    if not options.swarm or not options.subnet:
        raise ConfigError("say which miners: --swarm N --subnet NAME, or --target HOTKEY@HOST:PORT")
    if options.swarm < 1:
        raise ConfigError("--swarm must be at least 1")
    subnet, variant = split_subnet(options.subnet)
    if options.backend == "inprocess":
        return await inprocess_swarm(subnet, variant, options.swarm)
    if options.backend == "processes":
        return await process_swarm(subnet, variant, options.swarm, options.swarm_processes)
    if options.backend == "ray":
        from subnetkit.raybackend.swarm import RayPlan, ray_swarm

        ray_plan = RayPlan(options.ray_address, options.ray_hosts, options.ray_strategy)
        return await ray_swarm(subnet, variant, options.swarm, ray_plan)
    raise ConfigError(f"--backend {options.backend!r}: use inprocess, processes or ray")


def make_send(
    client: MinerClient,
    targets: list[Target],
    spec: MethodSpec,
    requests: list[Message],
    plan: LoadPlan,
) -> Callable[[], Any]:
    """One request to the next target in turn, or one round to the next ``fanout`` targets."""
    if plan.fanout > len(targets):
        raise ConfigError(f"--fanout {plan.fanout} is more than the {len(targets)} miners")
    rounds = itertools.cycle(
        [
            targets[i : i + plan.fanout]
            for i in range(0, len(targets) - plan.fanout + 1, plan.fanout)
        ]
    )
    pool = itertools.cycle(requests)
    timeout = plan.timeout_s

    async def send() -> Outcome:
        results = await client.query(next(rounds), spec, next(pool), timeout)
        return [
            ("OK", "") if r.error is None else (r.error.status.name, r.error.message)
            for r in results
        ]

    return send


async def run_loadtest(
    options: LoadTestOptions,
    *,
    on_start: Callable[[LiveRun], None] | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Run the test; the summary dict (with ``thresholds`` results when any were given)."""
    spec, requests = build_requests(options)
    plan = options.plan
    signer = signer_from(options.signer_ref)
    if options.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if options.workers > 1 and options.backend == "inprocess" and not options.targets:
        raise ConfigError(
            "--workers needs miners over gRPC (--backend processes or --target): in-process "
            "miners live inside the one harness process"
        )
    if options.backend == "ray" and options.workers > 1:
        raise ConfigError(
            "--backend ray runs one load generator beside each miner host: use --ray-hosts "
            "instead of --workers"
        )
    if options.backend == "ray" and options.targets:
        raise ConfigError("--backend ray starts its own swarm on the cluster: drop --target")
    target_set = await open_targets(options)
    started_at = datetime.now(UTC)
    try:
        if options.workers > 1 or target_set.generate is not None:
            job = {
                "subnet": options.subnet,
                "method": options.method,
                "request_json": options.request_json,
                "targets": [f"{t.hotkey}@{t.endpoint}" for t in target_set.targets],
                "signer": options.signer_ref,
            }
            if target_set.generate is not None:
                merged = await target_set.generate(job, plan)
            else:
                merged = await run_workers(job, plan, options.workers)
            recorder, wall, cpu = merged["recorder"], merged["wall_s"], merged["cpu_s"]
            end_reason = merged["end_reason"]
            generators = merged.get("generators", options.workers)
            return _summary(
                options,
                spec,
                signer,
                target_set,
                (recorder, wall, cpu, end_reason, generators),
                started_at,
            )
        recorder = Recorder(plan.duration_s)
        slots = max(plan.max_inflight, plan.concurrency) * plan.fanout
        client = MinerClient(
            signer,
            max_concurrency=slots,
            max_channels=len(target_set.targets) + 1,
            transport=target_set.transport,
        )
        async with client:
            send = make_send(client, target_set.targets, spec, requests, plan)
            engine = Engine(plan, send, recorder)
            if on_start is not None:
                on_start(LiveRun(recorder, engine, plan))
            wall0, cpu0 = time.perf_counter(), time.process_time()
            end_reason = await engine.run(stop)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await target_set.close()
    measured = (recorder, wall, cpu, end_reason, options.workers)
    return _summary(options, spec, signer, target_set, measured, started_at)


def _summary(
    options: LoadTestOptions,
    spec: MethodSpec,
    signer: Signer,
    target_set: TargetSet,
    measured: tuple[Recorder, float, float, str, int],
    started_at: datetime,
) -> dict[str, Any]:
    """The summary of ``measured``: (recorder, wall s, CPU s, end reason, generators)."""
    recorder, wall, cpu, end_reason, generators = measured
    plan = options.plan
    subnet, variant = split_subnet(options.subnet) if options.subnet else (None, None)
    meta = {
        "subnet": subnet,
        "variant": variant,
        "method": spec.path,
        "backend": target_set.backend,
        "targets": len(target_set.targets),
        "caller": signer.ss58,
        "workers": generators,
    }
    summary = build_summary(
        plan=plan,
        rec=recorder,
        meta=meta,
        wall_s=wall,
        cpu_s=cpu,
        end_reason=end_reason,
        started_at=started_at,
        miners_in_harness=target_set.miners_in_harness,
    )
    summary.update(target_set.details)
    summary["thresholds"] = evaluate(options.thresholds, summary)
    return summary


def dumps(summary: dict[str, Any]) -> str:
    """The one JSON object ``--format json`` ends with."""
    return json.dumps(summary, separators=(",", ":"))


__all__ = [
    "LiveRun",
    "LoadTestOptions",
    "build_requests",
    "dumps",
    "make_send",
    "run_loadtest",
    "signer_from",
]

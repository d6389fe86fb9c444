"""One simulation: chain, miners with behaviours, validators, K epochs, figures per behaviour.

Per epoch: every validator decides its weights (honest ones query all miners through the
in-process transport, full protocol unless ``trusted``), the weights go on chain as signed
``set_weights`` extrinsics, blocks are produced up to the epoch block, and the metagraph after it
gives each uid's incentive, dividends and emission. A warm-up epoch before the first hands out
validator permits (stake decides them, as on a live subnet). docs/simulation.md is the guide.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from subnetkit.chain.metagraph import Metagraph
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.core.settings import load_settings
from subnetkit.core.subnet_spec import build_component, resolve_subnet
from subnetkit.protos.chain.v1 import chain_pb2 as pb
from subnetkit.simulate.agents import VALIDATOR_KINDS, Agent, EpochView, to_u16
from subnetkit.simulate.behaviours import miner_behaviours, parse_counts
from subnetkit.simulate.chain import SimChain, build_subnet, start_chain
from subnetkit.simulate.miners import Miners, inprocess_miners, ray_miners
from subnetkit.validator.client import MinerClient
from subnetkit.validator.scoring import ScoringRuntime
from subnetkit.wire.methods import resolve_method

SCHEMA = "subnetkit.simulate/v1"


@dataclass
class SimulationOptions:
    subnet: str
    miners: str
    validators: str = "1"
    epochs: int = 3
    tempo: int = 10
    trusted: bool = False
    seed: int = 0
    slow_fraction: float = 0.5
    sample_size: int | None = None
    timeout: float = 2.0  # the validators' query timeout (a slow miner takes slow_fraction of it)
    validator_stake_tao: int = 1000
    backend: str = "inprocess"  # or "ray": the miners on a Ray cluster (docs/load-testing.md)
    ray_address: str | None = None  # ray: join this cluster (None: start a local one)
    ray_hosts: int | None = None  # ray: miner hosts (default: one per node)


@dataclass
class Neuron:
    role: str  # miner | validator
    kind: str  # its behaviour or validator kind
    coldkey: Signer
    hotkey: Signer
    uid: int = -1
    seed: bytes = b""  # the hotkey's seed: a Ray miner host rebuilds the key from it


def new_neuron(role: str, kind: str, coldkey: Signer) -> Neuron:
    """A neuron with a fresh throw-away hotkey."""
    seed = os.urandom(32)
    return Neuron(role, kind, coldkey, Signer.from_seed(seed), seed=seed)


def validator_counts(text: str) -> list[tuple[str, int]]:
    """``"2"`` (honest) or ``"honest=2,lazy=1,random=1"``."""
    if text.strip().isdigit():
        count = int(text)
        if count < 1:
            raise ConfigError("--validators must be at least 1")
        return [("honest", count)]
    return [(c.name, c.count) for c in parse_counts(text, VALIDATOR_KINDS, "--validators")]


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "min": 0.0, "max": 0.0}
    return {
        "mean": round(statistics.fmean(values), 9),
        "min": round(min(values), 9),
        "max": round(max(values), 9),
    }


def epoch_figures(neurons: list[Neuron], mg: Metagraph) -> dict[str, Any]:
    """Incentive/dividends/emission per behaviour and per validator kind, from one metagraph."""
    incentive, dividends = mg.incentive.tolist(), mg.dividends.tolist()
    emission = mg.emission.tolist()
    out: dict[str, Any] = {"miners": {}, "validators": {}}
    for role, key in (("miner", "miners"), ("validator", "validators")):
        kinds = dict.fromkeys(n.kind for n in neurons if n.role == role)
        for kind in kinds:
            uids = [n.uid for n in neurons if n.role == role and n.kind == kind]
            out[key][kind] = {
                "count": len(uids),
                "incentive": _stats([incentive[u] for u in uids]),
                "dividends": _stats([dividends[u] for u in uids]),
                "emission": _stats([float(emission[u]) for u in uids]),
                "emission_total": float(sum(emission[u] for u in uids)),
            }
    return out


async def run_simulation(
    options: SimulationOptions, *, on_epoch: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run it; the result document (schema ``subnetkit.simulate/v1``)."""
    if options.epochs < 1:
        raise ConfigError("--epochs must be at least 1")
    if not 0 <= options.slow_fraction < 1:
        raise ConfigError("--slow-fraction must be in [0, 1)")
    if options.backend not in ("inprocess", "ray"):
        raise ConfigError(f"--backend {options.backend!r}: use inprocess or ray")
    if options.backend == "ray" and options.trusted:
        raise ConfigError(
            "--trusted is the in-process transport's shortcut: Ray miners are reached over "
            "gRPC, signed; drop --trusted or use --backend inprocess"
        )
    spec = resolve_subnet(options.subnet, role="validator")
    overrides: dict[str, Any] = {
        "validator.sample_size": options.sample_size,
        "validator.timeout": options.timeout,
    }
    settings = load_settings(overrides=overrides)
    subnet = build_component(spec.class_for("validator"), settings, None)
    method = resolve_method(subnet.method)
    miner_counts = parse_counts(options.miners, miner_behaviours(spec), "--miners")
    rng = random.Random(options.seed)
    alice = dev_signer("alice")
    multi_owner = Signer.generate()
    neurons = [
        new_neuron("miner", c.name, multi_owner if c.name == "multi" else alice)
        for c in miner_counts
        for _ in range(c.count)
    ]
    neurons += [
        new_neuron("validator", kind, alice)
        for kind, count in validator_counts(options.validators)
        for _ in range(count)
    ]
    pool = await _ray_pool(options, neurons) if options.backend == "ray" else None
    try:
        with tempfile.TemporaryDirectory(prefix="subnetkit-simulate-") as tmp:
            overrides = {k: v for k, v in overrides.items() if v is not None}
            context = (subnet, method, settings, overrides, pool)
            return await _on_chain(Path(tmp), options, neurons, context, rng, on_epoch)
    finally:
        if pool is not None:
            await pool.close()


async def _ray_pool(options: SimulationOptions, neurons: list[Neuron]) -> Any:
    """Ray's miner hosts, up before the chain starts (see subnetkit.raybackend.simulation)."""
    from subnetkit.raybackend.simulation import RayMinerPool
    from subnetkit.raybackend.swarm import RayPlan

    plan = RayPlan(options.ray_address, options.ray_hosts)
    return await RayMinerPool.open(plan, sum(1 for n in neurons if n.role == "miner"))


async def _on_chain(
    tmp: Path,
    options: SimulationOptions,
    neurons: list[Neuron],
    context: tuple[Any, ...],
    rng: random.Random,
    on_epoch: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """Start the chain, register everyone, run the epochs, stop the chain."""
    service, client = await start_chain(tmp)
    try:
        sim = await build_subnet(
            service,
            client,
            miners=[(n.coldkey, n.hotkey) for n in neurons if n.role == "miner"],
            validators=[(n.coldkey, n.hotkey) for n in neurons if n.role == "validator"],
            validator_stake_tao=options.validator_stake_tao,
            tempo=options.tempo,
        )
        return await _epochs(sim, options, neurons, context, rng, on_epoch)
    finally:
        await client.close()
        await service.close()


async def _epochs(
    sim: SimChain,
    options: SimulationOptions,
    neurons: list[Neuron],
    context: tuple[Any, ...],
    rng: random.Random,
    on_epoch: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    _, method, settings, overrides, pool = context
    mg = await sim.client.metagraph(sim.netuid)
    uid_of = {hk: uid for uid, hk in enumerate(mg.hotkeys)}
    for n in neurons:
        n.uid = uid_of[n.hotkey.ss58]
    if options.backend == "ray":
        fleet = await ray_miners(neurons, options, method, overrides, pool)
    else:
        fleet = await inprocess_miners(neurons, options, method, settings, rng)
    try:
        document = await _run(sim, options, neurons, fleet, context, uid_of, rng, on_epoch)
    finally:
        await fleet.stop()
    return document | fleet.details


async def _run(
    sim: SimChain,
    options: SimulationOptions,
    neurons: list[Neuron],
    fleet: Miners,
    context: tuple[Any, ...],
    uid_of: dict[str, int],
    rng: random.Random,
    on_epoch: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """The warm-up and the K epochs against miners that serve (see the module docstring)."""
    subnet, _, settings, *_ = context
    targets = fleet.targets
    miner_uids = {t.hotkey: uid_of[t.hotkey] for t in targets}
    runtime = ScoringRuntime(subnet.make_scorer(settings), device="cpu", cpu_threads=1)
    agents = [
        Agent(n.kind, n.hotkey, n.coldkey, random.Random(rng.getrandbits(63)))
        for n in neurons
        if n.role == "validator"
    ]
    for agent in agents:
        if agent.kind == "honest":
            agent.client = MinerClient(
                agent.hotkey,
                max_concurrency=settings.validator.sample_size,
                transport=fleet.transport,
            )
    epochs: list[dict[str, Any]] = []
    try:
        await sim.until_epoch()  # warm-up: validator permits by stake
        previous: Metagraph | None = None
        for number in range(1, options.epochs + 1):
            started = time.perf_counter()
            now = await sim.client.metagraph(sim.netuid)
            view = EpochView(now, targets, miner_uids, previous)
            decided = await asyncio.gather(
                *(a.weights(view, subnet, runtime, settings) for a in agents)
            )
            calls = []
            for agent, raw in zip(agents, decided, strict=True):
                if raw is None:
                    continue
                uids, values = to_u16(raw[0], raw[1], now)
                call = pb.SetWeights(netuid=sim.netuid, uids=uids, weights=values)
                calls.append((agent.hotkey, pb.Call(set_weights=call)))
            receipts = await sim.submit(calls)
            refused = [r.error_message if r else "pool" for r in receipts if not r or not r.success]
            block = await sim.until_epoch()
            after = await sim.client.metagraph(sim.netuid)
            figures = {
                "epoch": number,
                "block": block,
                "seconds": round(time.perf_counter() - started, 3),
                "weights_set": len(calls) - len(refused),
                "weights_refused": refused[:5],
                **epoch_figures(neurons, after),
            }
            epochs.append(figures)
            if on_epoch is not None:
                on_epoch(figures)
            previous = after
    finally:
        for agent in agents:
            if agent.client is not None:
                await agent.client.close()
        runtime.close()
    return _document(options, neurons, epochs, previous)


def _document(
    options: SimulationOptions,
    neurons: list[Neuron],
    epochs: list[dict[str, Any]],
    last: Metagraph | None,
) -> dict[str, Any]:
    assert last is not None
    incentive, dividends = last.incentive.tolist(), last.dividends.tolist()
    emission = last.emission.tolist()
    miners = [
        {
            "uid": n.uid,
            "behaviour": n.kind,
            "hotkey": n.hotkey.ss58,
            "incentive": incentive[n.uid],
            "emission": float(emission[n.uid]),
        }
        for n in neurons
        if n.role == "miner"
    ]
    validators = [
        {
            "uid": n.uid,
            "kind": n.kind,
            "hotkey": n.hotkey.ss58,
            "dividends": dividends[n.uid],
            "emission": float(emission[n.uid]),
        }
        for n in neurons
        if n.role == "validator"
    ]
    ranking = sorted(
        epochs[-1]["miners"].items(), key=lambda kv: kv[1]["incentive"]["mean"], reverse=True
    )
    return {
        "schema": SCHEMA,
        "subnet": options.subnet,
        "trusted": options.trusted,
        "tempo": options.tempo,
        "epochs": len(epochs),
        "miners": dict(_counts(neurons, "miner")),
        "validators": dict(_counts(neurons, "validator")),
        "seconds_per_epoch": round(statistics.fmean(e["seconds"] for e in epochs), 3),
        "ranking": [kind for kind, _ in ranking],
        "per_epoch": epochs,
        "final": {"miners": miners, "validators": validators},
    }


def _counts(neurons: list[Neuron], role: str) -> list[tuple[str, int]]:
    kinds = dict.fromkeys(n.kind for n in neurons if n.role == role)
    return [(k, sum(1 for n in neurons if n.role == role and n.kind == k)) for k in kinds]


__all__ = ["SCHEMA", "SimulationOptions", "run_simulation", "validator_counts"]

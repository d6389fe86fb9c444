"""What an operator scrapes: a running miner and validator (real chain, real gRPC, real HTTP
scrapes) export every metric the shipped Grafana dashboard uses, no label carries a hotkey,
a signed validator is counted by class, the neuron's own chain state is there, and the
validator answers /healthz."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from subnetkit.subnets.echo.miner import EchoMiner
from subnetkit.subnets.echo.validator import EchoValidator
from subnetkit.testing import TAO, ChainHarness
from tests.neurons.support import drive, running_miners, running_validator, settings_for

pytestmark = pytest.mark.timeout(90)

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "subnetkit.json"
METRIC_NAME = re.compile(r"\b((?:subnetkit|process)_[a-z0-9_]+)\b")
SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s")


async def get(port: int, path: str) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    return await asyncio.to_thread(fetch)


def exported_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        match = SAMPLE_LINE.match(line)
        if match and not line.startswith("#"):
            names.add(match.group(1))
    return names


def dashboard_expressions() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    exprs = []
    for panel in doc["panels"]:
        exprs += [t["expr"] for t in panel.get("targets", [])]
    return exprs


def test_every_dashboard_expression_names_a_subnetkit_or_process_metric() -> None:
    exprs = dashboard_expressions()
    assert len(exprs) >= 20
    for expr in exprs:
        assert METRIC_NAME.search(expr), expr


async def test_running_neurons_export_what_the_dashboard_reads(
    chain: ChainHarness, tmp_path: Path
) -> None:
    h = chain
    netuid, _ = await h.subnet()
    miners = await h.register(netuid, 2)
    [vkey] = await h.register(netuid, 1, coldkey=h.charlie)
    await h.client.add_stake(h.charlie, netuid, vkey.ss58, 100 * TAO)
    await h.produce_until_epoch(netuid)  # the validator gets its permit
    settings = settings_for(h, netuid, tmp_path / "state", **{"metrics.port": 0})
    async with (
        running_miners(h, settings, [(EchoMiner(), k) for k in miners]) as miner_neurons,
        running_validator(h, settings, EchoValidator(), vkey) as validator,
    ):
        await drive(h, [validator], 3)
        ports = [n.metrics_endpoint.port for n in (*miner_neurons, validator)]  # type: ignore[union-attr]
        texts = [(await get(port, "/metrics"))[1] for port in ports]
        status, health = await get(ports[-1], "/healthz")
        validator.health_stale_s = 0.0  # as if no round had finished for a while
        stale_status, stale = await get(ports[-1], "/healthz")

    exported = set().union(*(exported_names(t) for t in texts))
    missing = {
        name
        for expr in dashboard_expressions()
        for name in METRIC_NAME.findall(expr)
        if name not in exported
    }
    assert not missing, f"dashboard reads metrics no neuron exports: {sorted(missing)}"

    every = "\n".join(texts)
    for key in (*miners, vkey):  # no label grows with the network
        assert key.ss58 not in every
    miner_text, validator_text = texts[0], texts[-1]
    # the signed validator is counted by its class, not as unauthenticated
    assert re.search(
        r'subnetkit_miner_requests_total\{[^}]*caller="validator"[^}]*status="OK"', miner_text
    )
    assert 'caller="unauthenticated"' not in miner_text
    assert re.search(r'subnetkit_neuron_info\{[^}]*role="miner"[^}]*version="', miner_text)
    uid = validator.uid
    assert f"subnetkit_neuron_uid {float(uid)}" in validator_text
    assert re.search(r"subnetkit_neuron_validator_permit 1\.0", validator_text)
    assert re.search(r'subnetkit_scoring_batch_size\{device="cpu"\} 2\.0', validator_text)

    assert status == 200, health
    doc = json.loads(health)
    assert doc["status"] == "ok" and doc["role"] == "validator" and doc["rounds"] >= 1
    assert stale_status == 503 and "no round finished" in json.loads(stale)["status"]

"""``subnetkit chain info`` against the test chain: text and json, and an unknown format refused
before anything is asked of the chain."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, ThreadedChain


def test_chain_info_json_and_text(cli: Cli, chain: ThreadedChain) -> None:
    out = cli("chain", "info", "--address", chain.address, "--format", "json", endpoint=False)
    assert out.code == 0, out.err
    doc = json.loads(out.out)
    assert doc["address"] == chain.address and doc["dev"] is True and doc["head"] >= 0
    text = cli("chain", "info", "--address", chain.address, endpoint=False)
    assert text.code == 0, text.err
    assert text.out.startswith(f"chain {chain.address}  head #")


@pytest.mark.parametrize("fmt", ["yaml", "JSON", ""])
def test_chain_info_refuses_an_unknown_format(cli: Cli, fmt: str) -> None:
    # An address nothing listens on: the format is checked before any call.
    out = cli("chain", "info", "--address", "127.0.0.1:1", "--format", fmt, endpoint=False)
    assert out.code == 2 and out.out == ""
    assert out.err.strip() == f"error[config]: unknown --format {fmt!r}: use 'text' or 'json'"


def test_chain_produce_moves_a_manual_chain(cli: Cli, chain: ThreadedChain) -> None:
    """The test chain is manual (with automine): produce drives it, one line of output."""
    assert chain.harness is not None
    head = chain.harness.service.head.number
    doc = json.loads(cli("chain", "produce", "--blocks", "3", "--format", "json").out)
    assert doc["head"] == head + 3 == chain.harness.service.head.number
    text = cli("chain", "produce")
    assert text.code == 0 and text.out.strip() == f"produced 1 block(s): head #{head + 4}"
    bad = cli("chain", "produce", "--blocks", "0")
    assert bad.code == 2 and bad.err.count("\n") == 1 and bad.err.startswith("error[config]: ")
    assert chain.harness.service.head.number == head + 4

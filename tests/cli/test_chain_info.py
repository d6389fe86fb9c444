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

"""``subnetkit transfer`` and refusals of bad input before anything is signed.

Each test drives the CLI in-process through ``main()`` (the same code path as the console
script, minus process start) and checks the outcome against the chain itself through the
harness client, not against the CLI's own report.
"""

from __future__ import annotations

import pytest

from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, ThreadedChain
from tests.cli.support import TAO, one_error_line, one_json


def test_transfer_moves_exact_rao(cli: Cli, chain: ThreadedChain) -> None:
    dest = Signer.generate().ss58
    doc = one_json(
        cli("transfer", "--dest", dest, "--amount", "1.5", "--uri", "//Ferdie", "--format", "json")
    )
    assert doc["amount_rao"] == 1_500_000_000
    assert chain.call(chain.harness.client.balance(dest)) == 1_500_000_000
    text = cli("transfer", "--dest", dest, "--amount", "0.000000001", "--uri", "//Ferdie")
    assert text.code == 0 and "sent 0.000000001 TAO" in text.out
    assert chain.call(chain.harness.client.balance(dest)) == 1_500_000_001


def test_transfer_beyond_balance_is_insufficient_balance(cli: Cli, chain: ThreadedChain) -> None:
    poor = Signer.from_uri("//cli-test-poor")
    rich = Signer.generate().ss58
    one_json(
        cli(
            "transfer",
            "--dest",
            poor.ss58,
            "--amount",
            "1",
            "--uri",
            "//Ferdie",
            "--format",
            "json",
        )
    )
    line = one_error_line(
        cli("transfer", "--dest", rich, "--amount", "2", "--uri", "//cli-test-poor"),
        "insufficient_balance",
        5,
    )
    assert poor.ss58 in line
    # refused before submitting (a public balance check), so the doomed transfer paid no fee
    assert chain.call(chain.harness.fees_paid(poor.ss58, 0)) == 0
    assert chain.call(chain.harness.client.balance(poor.ss58)) == TAO
    assert chain.call(chain.harness.client.balance(rich)) == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--dest", "not-an-address", "--amount", "1"], "config"),
        (
            [
                "--dest",
                "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
                "--amount",
                "1.0000000001",
            ],
            "config",
        ),
        (
            [
                "--dest",
                "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
                "--amount",
                "1",
                "--format",
                "yaml",
            ],
            "config",
        ),
    ],
)
def test_bad_input_is_refused_before_signing(cli: Cli, args: list[str], code: str) -> None:
    one_error_line(cli("transfer", *args, "--uri", "//Alice"), code, 2)

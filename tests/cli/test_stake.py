"""``subnetkit stake add|list|remove`` against a real chain service.

Each test drives the CLI in-process through ``main()`` (the same code path as the console
script, minus process start) and checks the outcome against the chain itself through the
harness client, not against the CLI's own report.
"""

from __future__ import annotations

from subnetkit.core.keys import Signer
from tests.cli.conftest import Cli, ThreadedChain
from tests.cli.support import TAO, new_subnet, one_error_line, one_json


def test_stake_add_list_remove_round_trip(cli: Cli, chain: ThreadedChain) -> None:
    netuid = new_subnet(cli)
    hotkey = Signer.generate().ss58
    dave = Signer.from_uri("//Dave").ss58
    one_json(
        cli(
            "register",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    start = chain.call(chain.harness.client.balance(dave))
    head = chain.harness.service.head.number

    added = one_json(
        cli(
            "stake",
            "add",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--amount",
            "2.5",
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    assert added["tao_rao"] == 2_500_000_000
    on_chain = chain.call(chain.harness.client.stake(netuid, hotkey, dave))
    assert added["alpha"] == added["stake_alpha"] == on_chain > 0
    fee = chain.call(chain.harness.fees_paid(dave, head))
    assert chain.call(chain.harness.client.balance(dave)) == start - 2_500_000_000 - fee

    listed = one_json(
        cli("stake", "list", "--netuid", str(netuid), "--uri", "//Dave", "--format", "json")
    )
    assert listed["coldkey"] == dave
    assert [(s["hotkey"], s["alpha"]) for s in listed["stakes"]] == [(hotkey, on_chain)]
    everywhere = one_json(cli("stake", "list", "--coldkey", dave, "--format", "json"))
    assert (netuid, hotkey) in [(s["netuid"], s["hotkey"]) for s in everywhere["stakes"]]
    text = cli("stake", "list", "--netuid", str(netuid), "--uri", "//Dave")
    assert text.code == 0 and hotkey in text.out

    half = on_chain // 2
    part = one_json(
        cli(
            "stake",
            "remove",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--amount",
            f"{half / TAO:.9f}",
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    assert part["alpha"] == half
    assert chain.call(chain.harness.client.stake(netuid, hotkey, dave)) == on_chain - half
    rest = one_json(
        cli(
            "stake",
            "remove",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--all",
            "--uri",
            "//Dave",
            "--format",
            "json",
        )
    )
    assert rest["alpha"] == on_chain - half and rest["stake_alpha"] == 0
    assert chain.call(chain.harness.client.stake(netuid, hotkey, dave)) == 0
    back = part["tao_rao"] + rest["tao_rao"]
    assert back > 0  # (emission flows into the pool between blocks, so the price moves)
    fee = chain.call(chain.harness.fees_paid(dave, head))
    assert chain.call(chain.harness.client.balance(dave)) == start - 2_500_000_000 + back - fee

    one_error_line(
        cli(
            "stake",
            "remove",
            "--netuid",
            str(netuid),
            "--hotkey",
            hotkey,
            "--all",
            "--uri",
            "//Dave",
        ),
        "insufficient_stake",
        5,
    )
    one_error_line(
        cli("stake", "remove", "--netuid", str(netuid), "--hotkey", hotkey, "--uri", "//Dave"),
        "config",
        2,
    )


def test_stake_on_an_unregistered_hotkey_is_not_registered(cli: Cli, chain: ThreadedChain) -> None:
    netuid = new_subnet(cli)
    stranger = Signer.generate().ss58
    eve = Signer.from_uri("//Eve").ss58
    before = chain.call(chain.harness.client.balance(eve))
    head = chain.harness.service.head.number
    line = one_error_line(
        cli(
            "stake",
            "add",
            "--netuid",
            str(netuid),
            "--hotkey",
            stranger,
            "--amount",
            "1",
            "--uri",
            "//Eve",
        ),
        "not_registered",
        6,
    )
    assert stranger in line
    fee = chain.call(chain.harness.fees_paid(eve, head))  # the failed call's fee, nothing else
    assert chain.call(chain.harness.client.balance(eve)) == before - fee

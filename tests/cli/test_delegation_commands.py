"""The payout-mechanism commands from the CLI against a real chain: ``stake set-take`` /
``stake take``, ``stake set-children`` / ``revoke-children`` / ``children``,
``stake set-childkey-take`` and ``subnet trigger-epoch``.

Each write is checked against the chain's own state (read through the service, not the CLI's
report); each refusal is one line with the chain's code, and comes from public state before
anything is decrypted: the refusing wallet is encrypted and its password is not available.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from subnetkit.chain.transition import mechanisms
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.testing import TAO
from tests.cli.conftest import Cli, ThreadedChain, dev_chain
from tests.cli.support import new_subnet, one_error_line, one_json

U64_MAX = 2**64 - 1


@pytest.fixture(scope="module")
def mech_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedChain]:
    with dev_chain(tmp_path_factory, "cli-keys", delegation=True, childkeys=True) as threaded:
        yield threaded


def _state(chain: ThreadedChain, read: Any) -> Any:
    """``read(state)`` on the chain's head state."""
    assert chain.harness is not None
    return chain.call(chain.harness.service.node.query(0, lambda state, _b, _h: read(state)))


@pytest.fixture(scope="module")
def poor(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Flags for an encrypted, unfunded wallet whose password no command is given: one that
    tried to decrypt it would fail on that, not on the reason it is refused for."""
    from subnetkit.core import wallet

    root = tmp_path_factory.mktemp("poor-wallet")
    wallet.create_wallet("poor", "default", path=root, password="a long passphrase")
    return ["--wallet-name", "poor", "--wallet-path", str(root)]


def test_takes_and_children_change_the_chain(
    mech_chain: ThreadedChain, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(mech_chain, capsys)
    harness = mech_chain.harness
    assert harness is not None
    client = harness.client
    netuid, _ = mech_chain.call(harness.subnet())
    parent, child = Signer.generate(), Signer.generate()
    dave, eve = dev_signer("dave"), dev_signer("eve")
    mech_chain.call(client.burned_register(dave, netuid, parent.ss58))
    mech_chain.call(client.burned_register(eve, netuid, child.ss58))
    mech_chain.call(client.add_stake(dave, netuid, parent.ss58, 40 * TAO))

    # the delegate take: set as its owner, read back by anyone
    doc = one_json(cli("stake", "set-take", "--take", "9%", "--hotkey", parent.ss58,
                       "--uri", "//Dave", "--format", "json"))  # fmt: skip
    assert doc["take"] == 5898  # round(0.09 x 65535)
    assert _state(mech_chain, lambda s: mechanisms.delegate_take(s, parent.ss58)) == 5898
    read = one_json(cli("stake", "take", parent.ss58, "--format", "json"))
    assert read["take"] == 5898 and read["delegation"] is True
    text = cli("stake", "take", parent.ss58)
    assert text.code == 0 and text.out.strip() == (
        f"delegate take of {parent.ss58}: 9.00% (5898/65535) at block {read['block']}"
    )

    # a quarter of the parent's stake weight lent to the child, which keeps 5% of it
    out = cli("stake", "set-children", "--netuid", str(netuid), "--child", f"{child.ss58}=0.25",
              "--hotkey", parent.ss58, "--uri", "//Dave")  # fmt: skip
    assert out.code == 0, out.err
    assert out.out.strip().startswith(f"children of {parent.ss58} on subnet {netuid}: ")
    assert len(out.out.strip().splitlines()) == 1
    children = _state(mech_chain, lambda s: mechanisms.children(s, netuid, parent.ss58))
    assert children == ((child.ss58, U64_MAX // 4),)
    mg = mech_chain.call(client.metagraph(netuid))
    uid = mg.hotkeys.index(child.ss58)
    assert float(mg.S[uid]) > float(mg.alpha_stake[uid])  # the epoch's stake includes the loan
    read = one_json(cli("stake", "children", parent.ss58, "--netuid", str(netuid),
                        "--format", "json"))  # fmt: skip
    assert read["children"] == [
        {"hotkey": child.ss58, "proportion": U64_MAX // 4, "share": (U64_MAX // 4) / U64_MAX}
    ]
    assert read["parents"] == [] and read["childkeys"] is True
    lines = cli("stake", "children", parent.ss58, "--netuid", str(netuid)).out.splitlines()
    assert lines[0].startswith(f"hotkey {parent.ss58} on subnet {netuid} at block ")
    assert lines[1:] == [f"child  {child.ss58} 0.250000 ({U64_MAX // 4}/{U64_MAX})"]

    one_json(cli("stake", "set-childkey-take", "--netuid", str(netuid), "--take", "0.05",
                 "--hotkey", child.ss58, "--uri", "//Eve", "--format", "json"))  # fmt: skip
    taken = _state(mech_chain, lambda s: mechanisms.childkey_take(s, netuid, child.ss58))
    assert taken == 3277  # round(0.05 x 65535)
    as_child = one_json(cli("stake", "children", child.ss58, "--netuid", str(netuid),
                            "--format", "json"))  # fmt: skip
    assert as_child["childkey_take"] == 3277 and as_child["children"] == []
    assert [p["hotkey"] for p in as_child["parents"]] == [parent.ss58]

    revoke = ("stake", "revoke-children", "--netuid", str(netuid), "--hotkey", parent.ss58)
    revoked = one_json(cli(*revoke, "--uri", "//Dave", "--format", "json"))
    assert revoked["children"] == []
    assert _state(mech_chain, lambda s: mechanisms.children(s, netuid, parent.ss58)) == ()
    for hotkey in (parent.ss58, child.ss58, Signer.generate().ss58):  # the last: unknown
        empty = one_json(cli("stake", "children", hotkey, "--netuid", str(netuid),
                             "--format", "json"))  # fmt: skip
        assert (empty["children"], empty["parents"]) == ([], [])
    # bad input is one line and a non-zero exit: refused locally, or by the chain
    one_error_line(cli("stake", "children", "5xyz", "--netuid", str(netuid)), "config", 2)
    missing = cli("stake", "children", parent.ss58, "--netuid", "999")
    one_error_line(missing, "subnet_not_found", 5)


def test_refusals_come_from_public_state_before_decrypting(
    mech_chain: ThreadedChain,
    capsys: pytest.CaptureFixture[str],
    poor: list[str],
) -> None:
    cli = Cli(mech_chain, capsys)
    harness = mech_chain.harness
    assert harness is not None
    netuid, _ = mech_chain.call(harness.subnet())
    theirs = Signer.generate()
    mech_chain.call(harness.client.burned_register(harness.bob, netuid, theirs.ss58))
    stranger = Signer.generate().ss58

    def refused(args: tuple[str, ...], code: str, exit_code: int) -> str:
        result = cli(*args, *poor)
        assert "decrypting" not in result.err
        return one_error_line(result, code, exit_code)

    # bad input: refused while the flags are read
    line = refused(("stake", "set-take", "--take", "0.2", "--hotkey", theirs.ss58), "config", 2)
    assert "at most 18.00% (11796/65535)" in line
    refused(("stake", "set-take", "--take", "lots", "--hotkey", theirs.ss58), "config", 2)
    n = ("--netuid", str(netuid), "--hotkey", theirs.ss58)
    for bad in (
        f"{stranger}=0.6 --child {Signer.generate().ss58}=0.5",  # more than the whole parent
        f"{theirs.ss58}=0.5",  # its own child
        "nonsense=0.5",
        f"{stranger}",  # no share
        f"{stranger}=0",
    ):
        words = bad.split(" --child ")
        args = ("stake", "set-children", *n, *(w for c in words for w in ("--child", c)))
        refused(args, "config", 2)
    # public state: someone else's hotkey, a hotkey registered nowhere, a subnet that is not
    line = refused(("stake", "set-children", *n, "--child", f"{stranger}=0.5"),
                   "not_hotkey_owner", 5)  # fmt: skip
    assert harness.bob.ss58 in line
    refused(("stake", "set-take", "--take", "0.1", "--hotkey", stranger), "not_registered", 6)
    refused(("stake", "set-childkey-take", "--netuid", "999", "--take", "0.1",
             "--hotkey", theirs.ss58), "subnet_not_found", 5)  # fmt: skip
    refused(("subnet", "trigger-epoch", str(netuid)), "not_owner", 5)


def test_trigger_epoch_runs_it_and_mechanisms_must_be_on(
    cli: Cli, chain: ThreadedChain, poor: list[str]
) -> None:
    """On the plain dev chain (no payout mechanisms): the owner runs an epoch now; the
    mechanism commands say which genesis flag the chain lacks."""
    assert chain.harness is not None
    netuid = new_subnet(cli)  # owned by Alice
    before = chain.call(chain.harness.client.subnet_info(netuid))
    doc = one_json(cli("subnet", "trigger-epoch", str(netuid), "--now", "--uri", "//Alice",
                       "--format", "json"))  # fmt: skip
    after = chain.call(chain.harness.client.subnet_info(netuid))
    assert after.last_epoch_block == doc["due_block"] == doc["last_epoch_block"]
    assert after.last_epoch_block > before.last_epoch_block

    hotkey = Signer.generate().ss58
    for args, code in (
        (("stake", "set-take", "--take", "0.1", "--hotkey", hotkey), "delegation_disabled"),
        (("stake", "revoke-children", "--netuid", str(netuid), "--hotkey", hotkey),
         "childkeys_disabled"),
    ):  # fmt: skip
        result = cli(*args, *poor)
        assert "decrypting" not in result.err
        line = one_error_line(result, code, 5)
        assert "subnetkit chain start --dev --" in line
    off = cli("stake", "children", hotkey, "--netuid", str(netuid))
    assert off.code == 0 and off.out.strip() == (
        "this chain runs without childkeys: no hotkey has children or parents"
    )

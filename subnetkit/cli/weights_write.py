"""``subnetkit set-weights|commit-weights|reveal-weights``: a validator hotkey's weights from the
command line (btcli's ``weights commit|reveal``), for a validator run by hand or a fix by an
operator; a running validator sets its own.

Weights are typed as ``UID=WEIGHT`` (relative values) and max-upscaled to u16 the way the chain
stores them (``chain.weights.max_upscale_u16``), so a reveal given the same values as its commit
sends the same u16 row. The vector is checked with the chain's own ``check_weights`` against
public state (the caller's uid and permit, the subnet's size, ``min_allowed_weights``,
``max_weights_limit``), with the version key, commit-reveal mode and ``weights_rate_limit``,
before anything is signed. The hotkey signs; no password is asked for.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subnetkit.cli.chain_command import KeyOptions, chain_command
from subnetkit.cli.options import Netuid
from subnetkit.cli.prechecks import need_past_rate_limit
from subnetkit.cli.session import Connection, Keys
from subnetkit.core.errors import ChainError, ConfigError, NotRegisteredError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.core.keys import Signer
    from subnetkit.protos.chain.v1 import chain_pb2 as pb

Weights = Annotated[
    list[str],
    typer.Option(
        "--weight",
        help="UID=WEIGHT, once per uid (e.g. 3=0.7); relative values, stored max-upscaled to u16.",
    ),
]
VersionKey = Annotated[
    int, typer.Option("--version-key", min=0, help="At least the subnet's weights_version_key.")
]
#: bytes of a fresh commit salt (the chain takes any length; validators use 16)
SALT_BYTES = 16


def parse_weights(values: list[str]) -> tuple[list[int], list[int]]:
    """``UID=WEIGHT`` values -> (uids ascending, u16 weights as the chain stores them)."""
    from subnetkit.chain.weights import max_upscale_u16

    row: dict[int, int | float] = {}
    for value in values:
        uid_text, sep, weight_text = value.partition("=")
        try:
            uid = int(uid_text)
            weight: int | float = (
                int(weight_text) if weight_text.strip().isdigit() else float(weight_text)
            )
        except ValueError:
            uid, weight = -1, -1
        if not sep or uid < 0 or not math.isfinite(weight) or weight < 0:
            raise ConfigError(
                f"--weight {value!r} is not UID=WEIGHT with a uid and a weight >= 0 (e.g. 3=0.7)"
            )
        if uid in row:
            raise ConfigError(f"--weight gives uid {uid} twice: give each uid once")
        row[uid] = weight
    if not row:
        raise ConfigError("give at least one --weight UID=WEIGHT")
    uids = sorted(row)
    return uids, max_upscale_u16([row[uid] for uid in uids])


def parse_salt(text: str) -> bytes:
    try:
        salt = bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError:
        salt = b""
    if not salt:
        raise ConfigError(f"--salt {text!r} is not hex: give the salt commit-weights printed")
    return salt


async def _validator(
    client: ChainClient, netuid: int, hotkey: str
) -> tuple[pb.SubnetInfo, pb.Neuron]:
    """The subnet and the signing hotkey's neuron on it (``not_registered`` if none)."""
    subnet = await client.subnet_info(netuid)
    neuron = await client.neuron(netuid, hotkey=hotkey)
    if neuron is None:
        raise NotRegisteredError(
            f"hotkey {hotkey} is not registered on subnet {netuid}: register it first with "
            f"`subnetkit register --netuid {netuid}`"
        )
    return subnet, neuron


def _need_mode(subnet: pb.SubnetInfo, commit_reveal: bool) -> None:
    """Direct weights on a subnet with commit-reveal off, commits and reveals with it on."""
    enabled = bool(subnet.hyperparameters["commit_reveal_weights_enabled"])
    if enabled == commit_reveal:
        return
    if enabled:
        raise ChainError(
            f"subnet {subnet.netuid} uses commit-reveal: `subnetkit commit-weights` now and "
            "`subnetkit reveal-weights` in the reveal epoch",
            code="commit_reveal_enabled",
        )
    raise ChainError(
        f"subnet {subnet.netuid} has commit-reveal off: use `subnetkit set-weights`",
        code="commit_reveal_disabled",
    )


def _need_acceptable(
    subnet: pb.SubnetInfo,
    neuron: pb.Neuron,
    uids: list[int],
    weights: list[int],
    version_key: int,
    *,
    permit_later: bool = False,
) -> None:
    """The chain's own checks of a weights row, version key included. ``permit_later``: a
    commit, whose permit is checked at the reveal, not now."""
    from subnetkit.chain.weights import check_weights

    hp = subnet.hyperparameters
    if version_key < hp["weights_version_key"]:
        raise ChainError(
            f"--version-key {version_key} is older than subnet {subnet.netuid}'s "
            f"weights_version_key {hp['weights_version_key']}",
            code="weights_version_too_old",
        )
    check_weights(
        uids,
        weights,
        caller_uid=int(neuron.uid),
        n=int(subnet.n),
        has_permit=bool(neuron.validator_permit) or permit_later,
        is_owner=neuron.hotkey == subnet.owner_hotkey,
        min_allowed_weights=int(hp["min_allowed_weights"]),
        max_weight_limit=int(hp["max_weights_limit"]),
    )


def _applied(
    conn: Connection,
    what: str,
    netuid: int,
    uids: list[int],
    values: list[int],
    doc: dict[str, Any],
) -> None:
    """Print weights the chain now holds for the hotkey (``doc``: hotkey and block)."""
    doc |= {"netuid": netuid, "uids": uids, "weights_u16": values}
    row = " ".join(f"{u}={w}" for u, w in zip(uids, values, strict=True))
    conn.emit(
        doc,
        lambda: typer.echo(
            f"{what} of {doc['hotkey']} on subnet {netuid}: {row} (u16), block {doc['block']}"
        ),
    )


@chain_command(KeyOptions.HOTKEY)
def set_weights_cmd(
    conn: Connection, keys: Keys, netuid: Netuid, weight: Weights, version_key: VersionKey = 0
) -> None:
    """Set the hotkey's weights on a subnet with commit-reveal off."""
    uids, values = parse_weights(weight)

    async def check(client: ChainClient, hotkey: str) -> None:
        subnet, neuron = await _validator(client, netuid, hotkey)
        _need_mode(subnet, commit_reveal=False)
        _need_acceptable(subnet, neuron, uids, values, version_key)
        limit = int(subnet.hyperparameters["weights_rate_limit"])
        last = int(neuron.last_update)
        await need_past_rate_limit(client, last, limit, "weights last set", "weights_rate_limit")

    async def work(client: ChainClient, hotkey: Signer) -> dict[str, Any]:
        receipt = await client.set_weights(
            hotkey, netuid, uids, values, version_key=version_key, timeout=conn.submit_timeout
        )
        return {"hotkey": hotkey.ss58, "block": receipt.block_number}

    _applied(conn, "weights", netuid, uids, values, conn.run_as_hotkey(keys, check, work))


@chain_command(KeyOptions.HOTKEY)
def commit_weights_cmd(
    conn: Connection, keys: Keys, netuid: Netuid, weight: Weights, version_key: VersionKey = 0
) -> None:
    """Commit the hash of weights (commit-reveal subnets); prints the salt to reveal with."""
    from subnetkit.chain.calls import receipt_event

    uids, values = parse_weights(weight)
    salt = os.urandom(SALT_BYTES)

    async def check(client: ChainClient, hotkey: str) -> None:
        subnet, neuron = await _validator(client, netuid, hotkey)
        _need_mode(subnet, commit_reveal=True)
        _need_acceptable(subnet, neuron, uids, values, version_key, permit_later=True)

    async def work(client: ChainClient, hotkey: Signer) -> dict[str, Any]:
        receipt = await client.commit_weights(
            hotkey, netuid, uids, values, salt, version_key=version_key,
            timeout=conn.submit_timeout,
        )  # fmt: skip
        event = receipt_event(receipt, "WeightsCommitted")
        return {"netuid": netuid, "hotkey": hotkey.ss58, "uids": uids, "weights_u16": values,
                "salt": salt.hex(), "version_key": version_key, "block": receipt.block_number,
                "reveal_from_block": int(event["reveal_from_block"])}  # fmt: skip

    doc = conn.run_as_hotkey(keys, check, work)
    weights = " ".join(f"--weight {u}={w}" for u, w in zip(uids, values, strict=True))
    conn.emit(
        doc,
        lambda: typer.echo(
            f"committed weights of {doc['hotkey']} on subnet {netuid} in block {doc['block']}; "
            f"reveal from block {doc['reveal_from_block']} with: subnetkit reveal-weights "
            f"--netuid {netuid} {weights} --salt {salt.hex()}"
            + (f" --version-key {version_key}" if version_key else "")
        ),
    )


@chain_command(KeyOptions.HOTKEY)
def reveal_weights_cmd(
    conn: Connection,
    keys: Keys,
    netuid: Netuid,
    weight: Weights,
    salt: Annotated[str, typer.Option("--salt", help="The hex salt commit-weights printed.")],
    version_key: VersionKey = 0,
) -> None:
    """Reveal weights committed earlier, in their reveal epoch, with the same salt."""
    uids, values = parse_weights(weight)
    raw_salt = parse_salt(salt)

    async def check(client: ChainClient, hotkey: str) -> None:
        subnet, neuron = await _validator(client, netuid, hotkey)
        _need_mode(subnet, commit_reveal=True)
        _need_acceptable(subnet, neuron, uids, values, version_key)

    async def work(client: ChainClient, hotkey: Signer) -> dict[str, Any]:
        receipt = await client.reveal_weights(
            hotkey, netuid, uids, values, raw_salt, version_key=version_key,
            timeout=conn.submit_timeout,
        )  # fmt: skip
        return {"hotkey": hotkey.ss58, "block": receipt.block_number}

    doc = conn.run_as_hotkey(keys, check, work)
    _applied(conn, "revealed weights", netuid, uids, values, doc)


def register(app: typer.Typer) -> None:
    app.command("set-weights")(set_weights_cmd)
    app.command("commit-weights")(commit_weights_cmd)
    app.command("reveal-weights")(reveal_weights_cmd)

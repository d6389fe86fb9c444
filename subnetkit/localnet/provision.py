"""Set a fresh dev chain up for a local network: subnet, wallets, funds, registrations, stake.

Everything is signed with dev keys: ``//Alice`` (funded, sudo) creates and owns the subnet and
sets its hyperparameters; each neuron gets its own coldkey (``//Bob`` .. ``//Ferdie``, then
``//localnet//cold/<name>`` keys funded from Alice by transfer) and a hotkey
``//localnet//<name>``. The keys are written as plain (unencrypted) btcli-layout wallets under
the data dir, one wallet per neuron named after it, so each neuron process loads its hotkey with
``--wallet-name <name> --wallet-path <data>/wallets`` exactly as an operator's would.

Each step goes to the chain as one batch of pre-signed extrinsics, so a step costs one block
however many neurons there are, and registration order (hence uids) is the plan's order.
Validators are staked (together half the pool's alpha, in equal slices) so they win validator
permits at the next epoch and hold comparable weight in consensus; miners start with none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from subnetkit.core.keys import DEV_ACCOUNTS, Signer, dev_signer
from subnetkit.localnet.naming import NeuronPlan
from subnetkit.localnet.supervisor import LocalnetError

if TYPE_CHECKING:
    from subnetkit.chain.client import ChainClient
    from subnetkit.protos.chain.v1 import chain_pb2 as pb

log = logging.getLogger(__name__)

TAO = 1_000_000_000
#: the chain's minimum stake (subtensor's DefaultMinStake)
MIN_STAKE_RAO = 2_000_000
#: TAO sent from Alice to each coldkey beyond the five funded dev accounts
EXTRA_FUNDS_TAO = 10_000
OWNER_WALLET = "owner"


@dataclass(frozen=True, slots=True)
class NeuronKeys:
    """A planned neuron with its keys, wallet and (after registration) uid."""

    plan: NeuronPlan
    coldkey_uri: str
    hotkey_uri: str
    coldkey: Signer
    hotkey: Signer
    uid: int = -1

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass(frozen=True, slots=True)
class Network:
    """What :func:`provision` set up: the subnet and every neuron's keys and uid."""

    netuid: int
    owner_hotkey: str
    owner_coldkey: str
    wallet_path: Path
    neurons: tuple[NeuronKeys, ...]
    commit_reveal: bool

    def by_uid(self) -> dict[int, NeuronKeys]:
        return {n.uid: n for n in self.neurons}

    def by_uid_list(self, uids: set[int]) -> list[NeuronKeys]:
        return [n for n in self.neurons if n.uid in uids]


def neuron_keys(plans: Sequence[NeuronPlan]) -> list[NeuronKeys]:
    """Deterministic dev keys per neuron (see the module docstring)."""
    funded = [name for name in DEV_ACCOUNTS if name != "Alice"]
    keys = []
    for i, plan in enumerate(plans):
        cold_uri = f"//{funded[i]}" if i < len(funded) else f"//localnet//cold/{plan.name}"
        hot_uri = f"//localnet//{plan.name}"
        keys.append(
            NeuronKeys(plan, cold_uri, hot_uri, Signer.from_uri(cold_uri), Signer.from_uri(hot_uri))
        )
    return keys


def write_wallets(keys: Sequence[NeuronKeys], wallet_path: Path) -> None:
    """One unencrypted dev wallet per neuron (``<name>/coldkey``, ``<name>/hotkeys/default``)
    plus ``owner`` (Alice with the owner hotkey). Idempotent for the same keys."""
    from subnetkit.core.wallet import create_wallet

    create_wallet(OWNER_WALLET, path=wallet_path, uri="//Alice", hotkey_uri="//localnet//owner")
    for k in keys:
        create_wallet(k.name, path=wallet_path, uri=k.coldkey_uri, hotkey_uri=k.hotkey_uri)


async def _submit_batch(
    client: ChainClient, items: Sequence[tuple[Signer, pb.Call]], what: str
) -> list[pb.Receipt]:
    """Sign ``items`` in order and submit them in one RPC; raise the first failure, typed."""
    from subnetkit.chain.errors import chain_error

    if not items:
        return []
    extrinsics = [await client.sign(signer, call) for signer, call in items]
    results = await client.submit_batch(extrinsics, wait=True)
    receipts = []
    for (signer, _), result in zip(items, results, strict=True):
        if result.error_code:
            client.forget_nonce(signer.ss58)
            raise chain_error(result.error_code, f"{what}: {result.error_message}")
        if not result.receipt.success:
            raise chain_error(result.receipt.error_code, f"{what}: {result.receipt.error_message}")
        receipts.append(result.receipt)
    return receipts


def _event_field(receipt: pb.Receipt, names: tuple[str, ...], key: str) -> int:
    import json

    for ev in receipt.events:
        if ev.name in names:
            return int(json.loads(ev.data_json)[key])
    raise LocalnetError(f"chain receipt has no {'/'.join(names)} event")


def validator_stakes(tao_in: int, alpha_in: int, count: int, share: float = 0.5) -> list[int]:
    """TAO (rao) for each of ``count`` validators to buy an equal slice of ``share`` of the
    pool's alpha, staked in this order. On a constant-product pool equal TAO would not do: the
    first buyer gets most of a small dev pool and later ones almost nothing."""
    each = int(alpha_in * share) // max(count, 1)
    amounts = []
    for _ in range(count):
        tao = -(-tao_in * each // (alpha_in - each))  # ceil: never get less than ``each``
        amounts.append(max(tao, MIN_STAKE_RAO))
        tao_in, alpha_in = tao_in + tao, alpha_in - each
    return amounts


#: what //Alice puts behind each validator when the chain runs those mechanisms
ROOT_STAKE_TAO = 100
NOMINATION_TAO = 10
#: with child keys, the first validator lends this share of its stake weight to the second
CHILD_SHARE = (2**64 - 1) // 10


async def _exercise_mechanisms(
    client: ChainClient, netuid: int, validators: Sequence[NeuronKeys]
) -> None:
    """Give each payout mechanism the chain runs something to pay (docs/epoch.md §10): root
    stake and a nomination from //Alice behind every validator, a child key between the first
    two validators."""
    from subnetkit.protos.chain.v1 import chain_pb2 as pb

    info = await client.info()
    alice = dev_signer("alice")
    calls: list[tuple[Signer, pb.Call]] = []
    for k in validators:
        if info.root:
            stake = pb.AddStake(netuid=0, hotkey=k.hotkey.ss58, amount=ROOT_STAKE_TAO * TAO)
            calls.append((alice, pb.Call(add_stake=stake)))
        if info.delegation:
            stake = pb.AddStake(netuid=netuid, hotkey=k.hotkey.ss58, amount=NOMINATION_TAO * TAO)
            calls.append((alice, pb.Call(add_stake=stake)))
    if info.childkeys and len(validators) >= 2:
        first, second = validators[0], validators[1]
        child = pb.ChildShare(hotkey=second.hotkey.ss58, proportion=CHILD_SHARE)
        lend = pb.SetChildren(netuid=netuid, hotkey=first.hotkey.ss58, children=[child])
        calls.append((first.coldkey, pb.Call(set_children=lend)))
    if calls:
        await _submit_batch(client, calls, "staking on root, nominating, setting child keys")


async def provision(
    client: ChainClient,
    plans: Sequence[NeuronPlan],
    wallet_path: Path,
    *,
    tempo: int | None = None,
    commit_reveal: bool | None = None,
    hyperparams: dict[str, int] | None = None,
) -> Network:
    """Create the subnet as Alice and register, fund and stake every planned neuron.

    ``commit_reveal=None`` keeps the chain's default (on); ``tempo=None`` keeps the dev tempo.
    """
    from subnetkit.protos.chain.v1 import chain_pb2 as pb

    alice = dev_signer("alice")
    owner_hot = Signer.from_uri("//localnet//owner")
    keys = neuron_keys(plans)
    write_wallets(keys, wallet_path)

    netuid = await client.create_subnet(alice, owner_hot.ss58)
    settings = dict(hyperparams or {})
    if tempo is not None:
        settings["tempo"] = tempo
    if commit_reveal is not None:
        settings["commit_reveal_weights_enabled"] = int(commit_reveal)
    await _submit_batch(
        client,
        [
            (
                alice,
                pb.Call(set_hyperparameter=pb.SetHyperparameter(netuid=netuid, name=k, value=v)),
            )
            for k, v in settings.items()
        ],
        "setting hyperparameters",
    )

    unfunded = [k for k in keys if k.coldkey_uri.startswith("//localnet//")]
    await _submit_batch(
        client,
        [
            (
                alice,
                pb.Call(transfer=pb.Transfer(dest=k.coldkey.ss58, amount=EXTRA_FUNDS_TAO * TAO)),
            )
            for k in unfunded
        ],
        "funding extra coldkeys from //Alice",
    )

    receipts = await _submit_batch(
        client,
        [
            (
                k.coldkey,
                pb.Call(burned_register=pb.BurnedRegister(netuid=netuid, hotkey=k.hotkey.ss58)),
            )
            for k in keys
        ],
        "registering neurons",
    )
    registered = [
        NeuronKeys(
            k.plan,
            k.coldkey_uri,
            k.hotkey_uri,
            k.coldkey,
            k.hotkey,
            _event_field(r, ("NeuronRegistered", "NeuronReplaced"), "uid"),
        )
        for k, r in zip(keys, receipts, strict=True)
    ]

    validators = [k for k in registered if k.plan.role == "validator"]
    pool = (await client.subnet_info(netuid)).pool
    amounts = validator_stakes(int(pool.tao_in), int(pool.alpha_in), len(validators))
    await _submit_batch(
        client,
        [
            (
                k.coldkey,
                pb.Call(add_stake=pb.AddStake(netuid=netuid, hotkey=k.hotkey.ss58, amount=tao)),
            )
            for k, tao in zip(validators, amounts, strict=True)
        ],
        "staking validators",
    )
    await _exercise_mechanisms(client, netuid, validators)
    final = await client.hyperparameters(netuid)
    log.debug("subnet %d ready with %d neurons", netuid, len(registered))
    return Network(
        netuid=netuid,
        owner_hotkey=owner_hot.ss58,
        owner_coldkey=alice.ss58,
        wallet_path=wallet_path,
        neurons=tuple(registered),
        commit_reveal=bool(final.get("commit_reveal_weights_enabled", 0)),
    )

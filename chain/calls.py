"""Every extrinsic the chain takes, as one typed method each (:class:`ChainCalls`).

A call that was included but failed (insufficient balance, rate limited, ...) raises its typed
error; the nonce is used either way, as on subtensor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from subnetkit.chain.commit_reveal import commit_hash
from subnetkit.chain.connection import ChainConnection
from subnetkit.core.errors import ChainError
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def receipt_event(receipt: pb.Receipt, name: str) -> dict[str, Any]:
    """The data of the first event called ``name`` in ``receipt`` (the call's result)."""
    for ev in receipt.events:
        if ev.name == name:
            return dict(json.loads(ev.data_json))
    raise ChainError(f"receipt has no {name} event", code="internal")


class ChainCalls(ChainConnection):
    """Signed extrinsics: transfers, subnets, registration, axons, stake, weights, sudo."""

    async def transfer(
        self,
        coldkey: Signer,
        dest: str,
        amount: int,
        *,
        wait: bool = True,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Send ``amount`` rao of free TAO from ``signer`` to ``dest``; returns the receipt."""
        call = pb.Call(transfer=pb.Transfer(dest=dest, amount=amount))
        return await self.submit(coldkey, call, wait=wait, timeout=timeout)

    async def create_subnet(
        self, coldkey: Signer, hotkey: str, *, timeout: float | None = None
    ) -> int:
        """Create a subnet (pays the lock cost); returns its netuid."""
        call = pb.Call(create_subnet=pb.CreateSubnet(hotkey=hotkey))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        return int(receipt_event(receipt, "SubnetCreated")["netuid"])

    async def burned_register(
        self, coldkey: Signer, netuid: int, hotkey: str, *, timeout: float | None = None
    ) -> int:
        """Register ``hotkey`` on ``netuid`` (pays the burn); returns its uid."""
        call = pb.Call(burned_register=pb.BurnedRegister(netuid=netuid, hotkey=hotkey))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        for name in ("NeuronRegistered", "NeuronReplaced"):
            for ev in receipt.events:
                if ev.name == name:
                    return int(json.loads(ev.data_json)["uid"])
        raise ChainError("registration receipt has no uid", code="internal")

    async def serve_axon(
        self,
        hotkey: Signer,
        netuid: int,
        ip: str,
        port: int,
        *,
        protocol: int = 4,
        version: int = 0,
        certificate_fingerprint: bytes = b"",
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Publish the hotkey's endpoint (ip, port) on the subnet for validators to dial."""
        call = pb.Call(
            serve_axon=pb.ServeAxon(
                netuid=netuid,
                ip=ip,
                port=port,
                protocol=protocol,
                version=version,
                certificate_fingerprint=certificate_fingerprint,
            )
        )
        return await self.submit(hotkey, call, timeout=timeout)

    async def add_stake(
        self,
        coldkey: Signer,
        netuid: int,
        hotkey: str,
        amount: int,
        *,
        timeout: float | None = None,
    ) -> int:
        """Stake ``amount`` rao of TAO on ``hotkey``; returns the alpha received."""
        call = pb.Call(add_stake=pb.AddStake(netuid=netuid, hotkey=hotkey, amount=amount))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        return int(receipt_event(receipt, "StakeAdded")["alpha"])

    async def remove_stake(
        self,
        coldkey: Signer,
        netuid: int,
        hotkey: str,
        amount: int,
        *,
        timeout: float | None = None,
    ) -> int:
        """Unstake ``amount`` alpha from ``hotkey``; returns the TAO (rao) received."""
        call = pb.Call(remove_stake=pb.RemoveStake(netuid=netuid, hotkey=hotkey, amount=amount))
        receipt = await self.submit(coldkey, call, timeout=timeout)
        return int(receipt_event(receipt, "StakeRemoved")["tao"])

    async def set_weights(
        self,
        hotkey: Signer,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        *,
        version_key: int = 0,
        wait: bool = True,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Set u16 weights directly (subnets with commit-reveal off)."""
        call = pb.Call(
            set_weights=pb.SetWeights(
                netuid=netuid, uids=list(uids), weights=list(weights), version_key=version_key
            )
        )
        return await self.submit(hotkey, call, wait=wait, timeout=timeout)

    async def commit_weights(
        self,
        hotkey: Signer,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        salt: bytes,
        *,
        version_key: int = 0,
        wait: bool = True,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Commit the hash of u16 weights; reveal them with the same salt in the reveal epoch."""
        digest = commit_hash(hotkey.ss58, netuid, uids, weights, salt, version_key)
        call = pb.Call(commit_weights=pb.CommitWeights(netuid=netuid, commit_hash=digest))
        return await self.submit(hotkey, call, wait=wait, timeout=timeout)

    async def reveal_weights(
        self,
        hotkey: Signer,
        netuid: int,
        uids: Sequence[int],
        weights: Sequence[int],
        salt: bytes,
        *,
        version_key: int = 0,
        wait: bool = True,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Reveal weights committed earlier (commit-reveal), with the salt used then."""
        call = pb.Call(
            reveal_weights=pb.RevealWeights(
                netuid=netuid,
                uids=list(uids),
                weights=list(weights),
                salt=salt,
                version_key=version_key,
            )
        )
        return await self.submit(hotkey, call, wait=wait, timeout=timeout)

    async def sudo_set_hyperparameter(
        self, signer: Signer, netuid: int, name: str, value: int, *, timeout: float | None = None
    ) -> pb.Receipt:
        """Set a hyperparameter as the sudo key (any, within bounds) or the subnet owner
        coldkey (owner-settable ones, within the owner's bounds)."""
        call = pb.Call(
            set_hyperparameter=pb.SetHyperparameter(netuid=netuid, name=name, value=value)
        )
        return await self.submit(signer, call, timeout=timeout)

    set_hyperparameter = sudo_set_hyperparameter

    async def trigger_epoch(
        self, signer: Signer, netuid: int, *, timeout: float | None = None
    ) -> int:
        """Owner trigger (dynamic schedule): returns the block the epoch falls due at."""
        call = pb.Call(trigger_epoch=pb.TriggerEpoch(netuid=netuid))
        receipt = await self.submit(signer, call, timeout=timeout)
        return int(receipt_event(receipt, "EpochTriggered")["at_block"])

    async def set_delegate_take(
        self, coldkey: Signer, hotkey: str, take: int, *, timeout: float | None = None
    ) -> pb.Receipt:
        """Set a hotkey's validator take (/65535, at most 11796 = 18%)."""
        call = pb.Call(set_delegate_take=pb.SetDelegateTake(hotkey=hotkey, take=take))
        return await self.submit(coldkey, call, timeout=timeout)

    async def set_children(
        self,
        coldkey: Signer,
        netuid: int,
        hotkey: str,
        children: Sequence[tuple[str, int]],
        *,
        timeout: float | None = None,
    ) -> pb.Receipt:
        """Lend ``hotkey``'s stake weight on ``netuid`` to ``(child, proportion / u64::MAX)``."""
        shares = [pb.ChildShare(hotkey=c, proportion=p) for c, p in children]
        call = pb.Call(set_children=pb.SetChildren(netuid=netuid, hotkey=hotkey, children=shares))
        return await self.submit(coldkey, call, timeout=timeout)

    async def set_childkey_take(
        self, coldkey: Signer, netuid: int, hotkey: str, take: int, *, timeout: float | None = None
    ) -> pb.Receipt:
        """Set ``hotkey``'s childkey take on ``netuid`` (``take`` / u16::MAX), as subtensor's
        ``set_childkey_take`` does."""
        call = pb.Call(
            set_childkey_take=pb.SetChildkeyTake(netuid=netuid, hotkey=hotkey, take=take)
        )
        return await self.submit(coldkey, call, timeout=timeout)

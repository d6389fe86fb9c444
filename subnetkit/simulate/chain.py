"""The simulation's chain: a real ``ChainService`` in this process, blocks made on demand.

Everything goes through signed extrinsics, as on a live network: Alice (the dev sudo key) creates
the subnet and sets its hyperparameters, registers every neuron with ``burned_register`` (in
batches, many per block) and stakes each validator. Blocks are produced as fast as they can be
built (manual mode: no timer, no sleep), so an epoch costs what its extrinsics and Yuma cost.

The subnet owner's hotkey holds uid 0; miners and validators follow in the order given. The
chain caps a subnet at 4,096 uids (``max_allowed_uids``), so miners + validators + 1 <= 4,096.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from subnetkit.chain.client import ChainClient
from subnetkit.chain.extrinsic import build
from subnetkit.chain.service import ChainService
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import Signer, dev_signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb

TAO = 1_000_000_000
MAX_UIDS = 4096
_BATCH = 500  # extrinsics per submit RPC: under the pool's per-account bound (1,024)


@dataclass
class SimChain:
    """The running chain, its client, the subnet and who holds which uid."""

    service: ChainService
    client: ChainClient
    netuid: int
    alice: Signer
    tempo: int
    # the pool's reasons, latest last (bounded: a long run keeps only the recent ones)
    refusals: deque[str] = field(default_factory=lambda: deque(maxlen=100))

    async def produce(self, count: int = 1) -> int:
        for _ in range(count):
            await self.service.produce_block()
        return int(self.service.head.number)

    async def until_epoch(self) -> int:
        """Produce blocks up to and including this subnet's next epoch block."""
        info = await self.client.subnet_info(self.netuid)
        return await self.produce(max(int(info.blocks_until_next_epoch), 1))

    async def submit(self, signed: Sequence[tuple[Signer, pb.Call]]) -> list[pb.Receipt | None]:
        """Sign each call with its signer, submit all, include them in new blocks; receipts in
        order (None: refused by the pool, which :func:`_check_pool` reports)."""
        genesis = await self.client.genesis_hash()
        nonces: dict[str, int] = {}
        exts = []
        for signer, call in signed:
            if signer.ss58 not in nonces:
                nonces[signer.ss58] = await self.client.nonce(signer.ss58)
            exts.append(build(signer, nonces[signer.ss58], call, genesis))
            nonces[signer.ss58] += 1
        hashes: list[bytes | None] = []
        for start in range(0, len(exts), _BATCH):
            results = await self.client.submit_batch(exts[start : start + _BATCH], wait=False)
            hashes.extend(r.extrinsic_hash if not r.error_code else None for r in results)
            self.refusals.extend(r.error_message for r in results if r.error_code)
            # Blocks are capped by weight and time: drain the pool before the next batch, or
            # one signer's backlog would pass the pool's per-account bound.
            await self.service.produce_block()
            while len(self.service.node.pool):
                await self.service.produce_block()
        for signer, _ in signed:
            self.client.forget_nonce(signer.ss58)
        return [None if h is None else await self.client.receipt(h) for h in hashes]

    async def must(self, signed: Sequence[tuple[Signer, pb.Call]]) -> list[pb.Receipt]:
        """:meth:`submit` where every call must succeed (set-up): ConfigError otherwise."""
        receipts = await self.submit(signed)
        for receipt in receipts:
            if receipt is None or not receipt.success:
                why = (
                    f"refused by the pool ({self.refusals[-1] if self.refusals else '?'})"
                    if receipt is None
                    else receipt.error_message
                )
                raise ConfigError(f"simulation set-up failed on chain: {why}")
        return [r for r in receipts if r is not None]


def _sudo(netuid: int, name: str, value: int) -> pb.Call:
    return pb.Call(set_hyperparameter=pb.SetHyperparameter(netuid=netuid, name=name, value=value))


async def start_chain(data_dir: Path) -> tuple[ChainService, ChainClient]:
    service = ChainService(data_dir, manual=True, automine=False, keep_blocks=16)
    await service.start()
    client = ChainClient(service.address, timeout=120.0)
    return service, client


async def build_subnet(
    service: ChainService,
    client: ChainClient,
    *,
    miners: Sequence[tuple[Signer, Signer]],
    validators: Sequence[tuple[Signer, Signer]],
    validator_stake_tao: int,
    tempo: int,
) -> SimChain:
    """Create the subnet, register ``miners`` then ``validators`` (each ``(coldkey, hotkey)``,
    coldkeys funded by Alice) and stake every validator equally."""
    total = len(miners) + len(validators) + 1
    if total > MAX_UIDS:
        raise ConfigError(
            f"{len(miners)} miners + {len(validators)} validators + the owner = {total} uids; "
            f"a subnet holds at most {MAX_UIDS}"
        )
    alice = dev_signer("alice")
    owner_hotkey = Signer.generate()
    sim = SimChain(service, client, 0, alice, tempo)
    create = pb.Call(create_subnet=pb.CreateSubnet(hotkey=owner_hotkey.ss58))
    created = await sim.must([(alice, create)])
    event = next(e for e in created[0].events if e.name == "SubnetCreated")
    netuid = int(json.loads(event.data_json)["netuid"])
    sim.netuid = netuid
    settings = {
        "tempo": tempo,
        "max_allowed_uids": total,
        "max_registrations_per_block": total + 1,
        # the owner's hotkey (uid 0) holds stake too: one permit more than validators
        "max_allowed_validators": len(validators) + 1,
        "commit_reveal_weights_enabled": 0,
        "weights_rate_limit": 0,
        "min_allowed_weights": 1,
        "immunity_period": 65_535,
        "burn": 0,
    }
    await sim.must([(alice, _sudo(netuid, k, v)) for k, v in settings.items()])
    coldkeys = {c.ss58: c for c, _ in [*miners, *validators] if c.ss58 != alice.ss58}
    stake = validator_stake_tao * TAO
    staking = [c.ss58 for c, _ in validators]
    funding = [
        (alice, pb.Call(transfer=pb.Transfer(dest=ss58, amount=stake * staking.count(ss58) + TAO)))
        for ss58 in coldkeys
    ]
    if funding:
        await sim.must(funding)
    register = [
        (cold, pb.Call(burned_register=pb.BurnedRegister(netuid=netuid, hotkey=hot.ss58)))
        for cold, hot in [*miners, *validators]
    ]
    await sim.must(register)
    stakes = [
        (cold, pb.Call(add_stake=pb.AddStake(netuid=netuid, hotkey=hot.ss58, amount=stake)))
        for cold, hot in validators
    ]
    if stakes:
        await sim.must(stakes)
    return sim


__all__ = ["MAX_UIDS", "TAO", "SimChain", "build_subnet", "start_chain"]

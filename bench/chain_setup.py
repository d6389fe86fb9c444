"""Driving a real chain service from bench/chain.py: submit and include pre-signed
extrinsics, run single calls as sudo, and build subnets of any size with signed registrations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from subnetkit.chain.client import ChainClient
from subnetkit.chain.extrinsic import build
from subnetkit.chain.service import ChainService
from subnetkit.core.keys import Signer
from subnetkit.protos.chain.v1 import chain_pb2 as pb

BATCH = 1024
SIGNERS = 64
VALIDATORS = 64


async def submit_all(client: ChainClient, exts: Sequence[pb.Extrinsic]) -> None:
    """Submit pre-signed extrinsics in batches; any pool refusal is a bench bug, so raise."""
    for start in range(0, len(exts), BATCH):
        results = await client.submit_batch(exts[start : start + BATCH], wait=False)
        bad = [r for r in results if r.error_code]
        if bad:
            raise RuntimeError(
                f"{len(bad)} refused, first: {bad[0].error_code} {bad[0].error_message}"
            )


async def include_all(service: ChainService, count: int) -> list[pb.Block]:
    """Produce blocks until ``count`` extrinsics are included (none may go missing)."""
    blocks = []
    included = 0
    while included < count:
        block = await service.produce_block()
        if not block.extrinsic_hashes and len(service.node.pool) == 0:
            raise RuntimeError(f"pool drained with {count - included} extrinsics missing")
        included += len(block.extrinsic_hashes)
        blocks.append(block)
    return blocks


def sign_many(
    signer: Signer, first_nonce: int, calls: Sequence[pb.Call], genesis: bytes
) -> list[pb.Extrinsic]:
    return [build(signer, first_nonce + i, call, genesis) for i, call in enumerate(calls)]


async def run_call(
    service: ChainService, client: ChainClient, signer: Signer, call: pb.Call
) -> pb.Receipt:
    """Submit one call and include it in exactly one new block (manual mode, no automine, so
    block numbers stay where the bench puts them); raise its typed error if it failed."""
    ext = await client.sign(signer, call)
    await submit_all(client, [ext])
    block = await service.produce_block()
    receipt = await client.receipt(block.extrinsic_hashes[-1])
    assert receipt is not None
    return client.check(receipt)


async def sudo(
    service: ChainService, client: ChainClient, alice: Signer, netuid: int, **values: int
) -> None:
    for name, value in values.items():
        call = pb.Call(
            set_hyperparameter=pb.SetHyperparameter(netuid=netuid, name=name, value=value)
        )
        await run_call(service, client, alice, call)


async def build_subnet(
    service: ChainService, client: ChainClient, alice: Signer, n: int
) -> tuple[int, list[Signer]]:
    """A subnet with ``n`` uids (owner hotkey + n-1 registrations by Alice); returns hotkeys."""
    owner_hotkey = Signer.generate()
    receipt = await run_call(
        service, client, alice, pb.Call(create_subnet=pb.CreateSubnet(hotkey=owner_hotkey.ss58))
    )
    created = next(e for e in receipt.events if e.name == "SubnetCreated")
    netuid = int(json.loads(created.data_json)["netuid"])
    await sudo(
        service,
        client,
        alice,
        netuid,
        tempo=50_000,  # no epoch until the bench asks for one
        max_allowed_uids=max(n, 1),
        max_registrations_per_block=n + 1,
        commit_reveal_weights_enabled=0,
        weights_rate_limit=0,
    )
    hotkeys = [Signer.generate() for _ in range(n - 1)]
    genesis = await client.genesis_hash()
    calls = [
        pb.Call(burned_register=pb.BurnedRegister(netuid=netuid, hotkey=h.ss58)) for h in hotkeys
    ]
    nonce = await client.nonce(alice.ss58)
    per_account = service.node.pool.limits.max_per_account  # what one signer may have pending
    for start in range(0, len(calls), per_account):
        chunk = calls[start : start + per_account]
        await submit_all(client, sign_many(alice, nonce + start, chunk, genesis))
        await include_all(service, len(chunk))
    client.forget_nonce(alice.ss58)
    info = await client.subnet_info(netuid)
    assert info.n == n, f"built n={info.n}, wanted {n}"
    return netuid, [owner_hotkey, *hotkeys]


async def epoch_at_next_block(
    service: ChainService, client: ChainClient, alice: Signer, netuid: int
) -> None:
    """Set tempo so that the block after the one holding this extrinsic runs the epoch."""
    head = int(service.head.number)
    await sudo(service, client, alice, netuid, tempo=head + 2 + netuid)

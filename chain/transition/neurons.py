"""Registration (uid assignment and replacement) and serving endpoints.

When a subnet is full, a new registration replaces the neuron with the lowest pruning score
among those past their immunity period (ties: the earliest registered, then the lowest uid).
The subnet owner's hotkey is never replaced. A replaced uid starts clean: weights, bonds,
endpoint and epoch outputs are cleared, and its new ``block_at_registration`` makes the next
epoch mask other validators' outdated weights and bonds on it (docs/epoch.md §2.5, §2.10).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from subnetkit.chain.errors import fail
from subnetkit.chain.records import Neuron
from subnetkit.chain.transition.context import Ctx, fmt_tao, require_address
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def claim_hotkey(ctx: Ctx, hotkey: str) -> None:
    """Bind ``hotkey`` to the signing coldkey; refuse a hotkey another coldkey owns."""
    owner = ctx.state.get("howner", (hotkey,))
    if owner is None:
        ctx.state.put("howner", (hotkey,), ctx.signer)
    elif owner != ctx.signer:
        raise fail(
            "hotkey_owned_by_other",
            f"hotkey {hotkey} belongs to coldkey {owner}; sign with that coldkey or use another "
            "hotkey",
        )


def append_neuron(ctx: Ctx, netuid: int, hotkey: str, coldkey: str) -> int:
    sn = ctx.subnet(netuid)
    uid = sn.n
    ctx.set_neuron(netuid, uid, Neuron(hotkey, coldkey, ctx.block, ctx.block))
    ctx.state.put("uid", (netuid, hotkey), uid)
    ctx.set_subnet(replace(ctx.subnet(netuid), n=sn.n + 1))
    return uid


def _prune_candidate(ctx: Ctx, netuid: int) -> int:
    sn = ctx.subnet(netuid)
    immunity = sn.hp("immunity_period")
    best: tuple[int, int, int] | None = None
    soonest = None
    for uid in range(sn.n):
        nrn = ctx.neuron(netuid, uid)
        if nrn.hotkey == sn.owner_hotkey:
            continue
        if ctx.block - nrn.block_at_registration < immunity:
            ends = nrn.block_at_registration + immunity
            soonest = ends if soonest is None else min(soonest, ends)
            continue
        rank = (nrn.pruning_score, nrn.block_at_registration, uid)
        if best is None or rank < best:
            best = rank
    if best is None:
        when = f"; the first immunity ends at block {soonest}" if soonest is not None else ""
        raise fail(
            "registrations_full",
            f"subnet {netuid} is full ({sn.n} uids) and every neuron is immune{when}; retry then",
        )
    return best[2]


def _replace_neuron(ctx: Ctx, netuid: int, uid: int, hotkey: str, coldkey: str) -> str:
    old = ctx.neuron(netuid, uid)
    ctx.state.delete("uid", (netuid, old.hotkey))
    ctx.state.delete("weights", (netuid, uid))
    ctx.state.delete("bonds", (netuid, uid))
    ctx.state.delete("commits", (netuid, old.hotkey))
    ctx.set_neuron(netuid, uid, Neuron(hotkey, coldkey, ctx.block, ctx.block))
    ctx.state.put("uid", (netuid, hotkey), uid)
    return old.hotkey


def burned_register(ctx: Ctx, call: pb.BurnedRegister) -> None:
    netuid = call.netuid
    sn = ctx.subnet(netuid)
    hotkey = require_address(call.hotkey, "hotkey")
    if not sn.hp("registration_allowed"):
        raise fail("registration_closed", f"subnet {netuid}'s owner has closed registration")
    if ctx.uid_of(netuid, hotkey) is not None:
        raise fail(
            "already_registered",
            f"hotkey {hotkey} is already registered on subnet {netuid} as uid "
            f"{ctx.uid_of(netuid, hotkey)}",
        )
    in_block = sn.regs_in_block if sn.regs_block == ctx.block else 0
    if in_block >= sn.hp("max_registrations_per_block"):
        raise fail(
            "rate_limited",
            f"subnet {netuid} took its {in_block} registration(s) for this block; rate limited "
            f"until block {ctx.block + 1}",
        )
    claim_hotkey(ctx, hotkey)
    burn = sn.hp("burn")
    ctx.debit(ctx.signer, burn, f"registering on subnet {netuid} (burn {fmt_tao(burn)})")
    ctx.add_issuance(-burn)  # burned TAO leaves the supply (recycled)
    if sn.n < sn.hp("max_allowed_uids"):
        uid = append_neuron(ctx, netuid, hotkey, ctx.signer)
        ctx.emit("NeuronRegistered", netuid=netuid, uid=uid, hotkey=hotkey, burn=burn)
    else:
        uid = _prune_candidate(ctx, netuid)
        old = _replace_neuron(ctx, netuid, uid, hotkey, ctx.signer)
        ctx.emit("NeuronReplaced", netuid=netuid, uid=uid, hotkey=hotkey, old_hotkey=old, burn=burn)
    sn = ctx.subnet(netuid)
    ctx.set_subnet(replace(sn, regs_block=ctx.block, regs_in_block=in_block + 1))


def serve_axon(ctx: Ctx, call: pb.ServeAxon) -> None:
    netuid = call.netuid
    sn = ctx.subnet(netuid)
    uid = ctx.registered_uid(netuid, ctx.signer)
    try:
        ip = str(ipaddress.ip_address(call.ip))
    except ValueError:
        raise fail("bad_argument", f"ip {call.ip!r} is not an IPv4 or IPv6 address") from None
    if not 1 <= call.port <= 65535:
        raise fail("bad_argument", f"port {call.port} is outside 1..65535")
    if call.protocol > 255:
        raise fail("bad_argument", f"protocol {call.protocol} is outside 0..255")
    fp = bytes(call.certificate_fingerprint)
    if fp and len(fp) != 32:
        raise fail(
            "bad_argument",
            f"certificate_fingerprint is {len(fp)} bytes; give the 32-byte SHA-256 of the DER "
            "certificate, or nothing for plaintext",
        )
    nrn = ctx.neuron(netuid, uid)
    limit = sn.hp("serving_rate_limit")
    if nrn.endpoint is not None and limit and ctx.block - nrn.endpoint[5] < limit:
        raise fail(
            "rate_limited",
            f"endpoint updated at block {nrn.endpoint[5]}; serving rate limited until block "
            f"{nrn.endpoint[5] + limit}",
        )
    endpoint = (ip, call.port, call.protocol, call.version, fp.hex(), ctx.block)
    ctx.set_neuron(netuid, uid, replace(nrn, endpoint=endpoint))
    ctx.emit("AxonServed", netuid=netuid, uid=uid, hotkey=ctx.signer, ip=ip, port=call.port)

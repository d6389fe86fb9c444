"""Read-only views of a :class:`chain.state.State` at a block, as protobuf messages.

The servicer answers head queries from the live state and past-block queries from a state
rebuilt from the store; both go through these functions.
"""

from __future__ import annotations

from subnetkit.chain import sparse_wire
from subnetkit.chain.errors import chain_error
from subnetkit.chain.records import Neuron, Subnet
from subnetkit.chain.state import State
from subnetkit.chain.transition import mechanisms
from subnetkit.chain.transition.emission import price
from subnetkit.chain.transition.schedule import blocks_until_next_epoch
from subnetkit.protos.chain.v1 import chain_pb2 as pb


def account(state: State, address: str, block: int) -> pb.GetAccountResponse:
    acct = state.get("acct", (address,))
    if acct is None:
        return pb.GetAccountResponse(balance=0, nonce=0, block=block)
    return pb.GetAccountResponse(balance=acct.balance, nonce=acct.nonce, block=block)


def subnet_record(state: State, netuid: int) -> Subnet:
    sn: Subnet | None = state.get("subnet", (netuid,))
    if sn is None:
        raise chain_error(
            "subnet_not_found", f"subnet {netuid} does not exist; list_subnets shows those that do"
        )
    return sn


def subnet_info(state: State, sn: Subnet, block: int) -> pb.SubnetInfo:
    tempo = sn.hp("tempo")
    return pb.SubnetInfo(
        netuid=sn.netuid,
        owner_coldkey=sn.owner_coldkey,
        owner_hotkey=sn.owner_hotkey,
        registered_at=sn.registered_at,
        n=sn.n,
        hyperparameters=sn.hyperparams,
        pool=pb.Pool(
            tao_in=sn.tao_in,
            alpha_in=sn.alpha_in,
            alpha_out=sn.alpha_out,
            price=price(sn),
        ),
        tempo=tempo,
        blocks_until_next_epoch=blocks_until_next_epoch(state, sn, block),
        last_epoch_block=sn.last_epoch_block,
        burn=sn.hp("burn"),
        pending_server=sn.pending_server,
        pending_validator=sn.pending_validator,
        pending_owner=sn.pending_owner,
        block=block,
        pending_root=sn.pending_root,
        root_proportion_u64=_root_proportion_u64(state, sn),
    )


def _root_proportion_u64(state: State, sn: Subnet) -> int:
    num, den = mechanisms.root_proportion(state, sn.alpha_issuance)
    return num * (2**64 - 1) // den


def list_subnets(state: State, block: int) -> list[pb.SubnetInfo]:
    return [subnet_info(state, sn, block) for _, sn in sorted(state.items("subnet"))]


def endpoint(nrn: Neuron) -> pb.Endpoint:
    if nrn.endpoint is None:
        return pb.Endpoint()
    ip, port, protocol, version, fp_hex, at = nrn.endpoint
    return pb.Endpoint(
        ip=ip,
        port=port,
        protocol=protocol,
        version=version,
        certificate_fingerprint=bytes.fromhex(fp_hex),
        block=at,
    )


def neuron(state: State, netuid: int, uid: int) -> pb.Neuron:
    nrn: Neuron = state.get("neuron", (netuid, uid))
    return pb.Neuron(
        netuid=netuid,
        uid=uid,
        hotkey=nrn.hotkey,
        coldkey=nrn.coldkey,
        stake=state.get("hstake", (netuid, nrn.hotkey), 0),
        block_at_registration=nrn.block_at_registration,
        last_update=nrn.last_update,
        validator_permit=nrn.validator_permit,
        active=nrn.active,
        consensus=nrn.consensus,
        incentive=nrn.incentive,
        dividends=nrn.dividends,
        validator_trust=nrn.validator_trust,
        pruning_score=nrn.pruning_score,
        emission=nrn.emission,
        endpoint=endpoint(nrn),
    )


def find_neuron(
    state: State, netuid: int, *, uid: int | None, hotkey: str | None
) -> pb.Neuron | None:
    sn = subnet_record(state, netuid)
    if hotkey is not None:
        uid = state.get("uid", (netuid, hotkey))
        if uid is None:
            return None
    if uid is None or uid >= sn.n:
        return None
    return neuron(state, netuid, uid)


def stake(state: State, netuid: int, hotkey: str, coldkey: str) -> int:
    if coldkey:
        return int(state.get("stake", (netuid, hotkey, coldkey), 0))
    return int(state.get("hstake", (netuid, hotkey), 0))


def stake_response(
    state: State, netuid: int, hotkey: str, coldkey: str, block: int
) -> pb.GetStakeResponse:
    take = (
        mechanisms.delegate_take(state, hotkey) if "delegation" in mechanisms.enabled(state) else 0
    )
    return pb.GetStakeResponse(
        alpha=stake(state, netuid, hotkey, coldkey),
        block=block,
        hotkey_total=stake(state, netuid, hotkey, ""),
        delegate_take=take,
    )


def children_response(state: State, netuid: int, hotkey: str, block: int) -> pb.GetChildrenResponse:
    """``hotkey``'s children, parents and childkey take on ``netuid``. The subnet must exist
    (a typo'd netuid is ``subnet_not_found``, not a silent "no children"); a hotkey with none,
    or one registered nowhere, has empty lists, which is the chain's true answer."""
    subnet_record(state, netuid)
    on = "childkeys" in mechanisms.enabled(state)
    return pb.GetChildrenResponse(
        children=[
            pb.ChildShare(hotkey=c, proportion=p)
            for c, p in mechanisms.children(state, netuid, hotkey)
        ],
        parents=[
            pb.ParentShare(hotkey=p, proportion=share)
            for p, share in mechanisms.parents(state, netuid, hotkey)
        ],
        childkey_take=mechanisms.childkey_take(state, netuid, hotkey) if on else 0,
        block=block,
        childkeys=on,
    )


def _matrix(state: State, table: str, netuid: int, n: int) -> pb.SparseU16Matrix:
    return sparse_wire.encode([state.get(table, (netuid, uid)) for uid in range(n)], n)


def metagraph(
    state: State, netuid: int, block: int, block_hash: bytes, with_weights: bool
) -> pb.MetagraphSnapshot:
    sn = subnet_record(state, netuid)
    neurons: list[Neuron] = [state.get("neuron", (netuid, uid)) for uid in range(sn.n)]
    alpha = [float(state.get("hstake", (netuid, nrn.hotkey), 0)) for nrn in neurons]
    tao = [0.0] * sn.n
    total = alpha
    if mechanisms.enabled(state):
        # root TAO of each hotkey, and the stake weight the epoch uses (children included)
        tao = [float(state.get("hstake", (0, nrn.hotkey), 0)) for nrn in neurons]
        total = [float(mechanisms.stake_weight(state, netuid, nrn.hotkey)) for nrn in neurons]
    snap = pb.MetagraphSnapshot(
        netuid=netuid,
        block=block,
        block_hash=block_hash,
        subnet=subnet_info(state, sn, block),
        hotkeys=[nrn.hotkey for nrn in neurons],
        coldkeys=[nrn.coldkey for nrn in neurons],
        alpha_stake=alpha,
        tao_stake=tao,
        total_stake=total,
        consensus=[nrn.consensus for nrn in neurons],
        incentive=[nrn.incentive for nrn in neurons],
        dividends=[nrn.dividends for nrn in neurons],
        validator_trust=[nrn.validator_trust for nrn in neurons],
        emission=[nrn.emission for nrn in neurons],
        validator_permit=[nrn.validator_permit for nrn in neurons],
        active=[nrn.active for nrn in neurons],
        last_update=[nrn.last_update for nrn in neurons],
        block_at_registration=[nrn.block_at_registration for nrn in neurons],
        pruning_score=[nrn.pruning_score for nrn in neurons],
        endpoints=[endpoint(nrn) for nrn in neurons],
        with_weights=with_weights,
    )
    if with_weights:
        snap.weights.CopyFrom(_matrix(state, "weights", netuid, sn.n))
        snap.bonds.CopyFrom(_matrix(state, "bonds", netuid, sn.n))
    return snap

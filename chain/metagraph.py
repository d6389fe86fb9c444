"""``Metagraph``: a block-stamped snapshot of one subnet, as torch tensors named as Bittensor's
metagraph names them, and :func:`diff` between two snapshots.

One RPC (GetMetagraph) fills it. Units follow the Bittensor SDK: stakes and emission in
TAO/alpha units (rao / 1e9) as float32; consensus, incentive, dividends and validator trust as
u16 / 65535 fractions; ``W`` row-normalised (row = the validator that set it), ``B`` as stored
u16 / 65535; both only when requested (``with_weights=True``), else empty tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from subnetkit.chain import sparse_wire
from subnetkit.protos.chain.v1 import chain_pb2 as pb

if TYPE_CHECKING:
    import torch

RAO = 1e9
U16 = 65535.0


@dataclass(frozen=True, slots=True)
class AxonInfo:
    """A neuron's published endpoint."""

    uid: int
    hotkey: str
    coldkey: str
    ip: str
    port: int
    protocol: int
    version: int
    certificate_fingerprint: bytes
    block: int

    @property
    def is_serving(self) -> bool:
        """True once the neuron published an endpoint (an ip and a port)."""
        return bool(self.ip) and self.port > 0

    @property
    def address(self) -> str:
        """``ip:port`` to dial (``[ip]:port`` for IPv6)."""
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass
class Metagraph:
    """One subnet at one block (see the module docstring for units).

    ``tao_stake`` (``TS``) is always zeros: this chain has no root network, so no TAO is staked
    through root and ``stake`` (``S``) equals ``alpha_stake`` (``AS``). The field is kept so
    code written against Bittensor's metagraph (``S = AS + TS * tao_weight``) runs unchanged.
    """

    netuid: int
    block: int
    block_hash: bytes
    n: int
    hotkeys: list[str]
    coldkeys: list[str]
    axons: list[AxonInfo]
    uids: torch.Tensor
    stake: torch.Tensor
    alpha_stake: torch.Tensor
    tao_stake: torch.Tensor
    consensus: torch.Tensor
    incentive: torch.Tensor
    dividends: torch.Tensor
    emission: torch.Tensor
    validator_trust: torch.Tensor
    validator_permit: torch.Tensor
    active: torch.Tensor
    last_update: torch.Tensor
    block_at_registration: torch.Tensor
    pruning_score: torch.Tensor
    weights: torch.Tensor
    bonds: torch.Tensor
    weights_u16: torch.Tensor
    hparams: dict[str, int]
    pool: pb.Pool
    tempo: int
    blocks_until_next_epoch: int
    owner_hotkey: str
    owner_coldkey: str
    with_weights: bool = False
    subnet: pb.SubnetInfo = field(default_factory=pb.SubnetInfo, repr=False)

    # Bittensor's short names ---------------------------------------------------------------------
    @property
    def S(self) -> torch.Tensor:
        """Bittensor's short name for ``stake``."""
        return self.stake

    @property
    def total_stake(self) -> torch.Tensor:
        """The same as ``stake`` (Bittensor's older name)."""
        return self.stake

    @property
    def AS(self) -> torch.Tensor:
        """Bittensor's short name for ``alpha_stake``."""
        return self.alpha_stake

    @property
    def TS(self) -> torch.Tensor:
        """Bittensor's short name for ``tao_stake`` (always zeros here: no root network)."""
        return self.tao_stake

    @property
    def C(self) -> torch.Tensor:
        """Bittensor's short name for ``consensus``."""
        return self.consensus

    @property
    def I(self) -> torch.Tensor:  # noqa: E743
        """Bittensor's short name for ``incentive``."""
        return self.incentive

    @property
    def D(self) -> torch.Tensor:
        """Bittensor's short name for ``dividends``."""
        return self.dividends

    @property
    def E(self) -> torch.Tensor:
        """Bittensor's short name for ``emission``."""
        return self.emission

    @property
    def Tv(self) -> torch.Tensor:
        """Bittensor's short name for ``validator_trust``."""
        return self.validator_trust

    @property
    def W(self) -> torch.Tensor:
        """Bittensor's short name for ``weights``."""
        return self.weights

    @property
    def B(self) -> torch.Tensor:
        """Bittensor's short name for ``bonds``."""
        return self.bonds

    @property
    def addresses(self) -> list[str]:
        """Every uid's published endpoint as ``ip:port`` (empty when not serving)."""
        return [a.address for a in self.axons]

    def uid_of(self, hotkey: str) -> int | None:
        """The uid of ``hotkey`` here, or None when it is not registered."""
        try:
            return self.hotkeys.index(hotkey)
        except ValueError:
            return None

    @classmethod
    def from_proto(cls, snap: pb.MetagraphSnapshot) -> Metagraph:
        """Build the tensors from a ``MetagraphSnapshot`` message (imports torch)."""
        import torch

        n = len(snap.hotkeys)

        def f32(values: Any, scale: float = 1.0) -> torch.Tensor:
            return torch.tensor(list(values), dtype=torch.float32) / scale

        def i64(values: Any) -> torch.Tensor:
            return torch.tensor(list(values), dtype=torch.int64)

        if snap.with_weights and n:
            w_u16 = sparse_wire.decode(snap.weights, n)
            w = w_u16.to(torch.float32)
            weights = w / w.sum(dim=1, keepdim=True).clamp(min=1.0)  # empty rows stay 0
            bonds = sparse_wire.decode(snap.bonds, n).to(torch.float32) / U16
        else:
            w_u16 = torch.zeros((0, 0), dtype=torch.int64)
            weights = torch.zeros((0, 0), dtype=torch.float32)
            bonds = torch.zeros((0, 0), dtype=torch.float32)
        axons = [
            AxonInfo(
                uid=i,
                hotkey=snap.hotkeys[i],
                coldkey=snap.coldkeys[i],
                ip=ep.ip,
                port=ep.port,
                protocol=ep.protocol,
                version=ep.version,
                certificate_fingerprint=bytes(ep.certificate_fingerprint),
                block=ep.block,
            )
            for i, ep in enumerate(snap.endpoints)
        ]
        sub = snap.subnet
        return cls(
            netuid=snap.netuid,
            block=snap.block,
            block_hash=bytes(snap.block_hash),
            n=n,
            hotkeys=list(snap.hotkeys),
            coldkeys=list(snap.coldkeys),
            axons=axons,
            uids=torch.arange(n, dtype=torch.int64),
            stake=f32(snap.total_stake, RAO),
            alpha_stake=f32(snap.alpha_stake, RAO),
            tao_stake=f32(snap.tao_stake, RAO),
            consensus=f32(snap.consensus, U16),
            incentive=f32(snap.incentive, U16),
            dividends=f32(snap.dividends, U16),
            emission=f32(snap.emission, RAO),
            validator_trust=f32(snap.validator_trust, U16),
            validator_permit=torch.tensor(list(snap.validator_permit), dtype=torch.bool),
            active=torch.tensor(list(snap.active), dtype=torch.bool),
            last_update=i64(snap.last_update),
            block_at_registration=i64(snap.block_at_registration),
            pruning_score=f32(snap.pruning_score, U16),
            weights=weights,
            bonds=bonds,
            weights_u16=w_u16,
            hparams=dict(sub.hyperparameters),
            pool=sub.pool,
            tempo=int(sub.tempo),
            blocks_until_next_epoch=int(sub.blocks_until_next_epoch),
            owner_hotkey=sub.owner_hotkey,
            owner_coldkey=sub.owner_coldkey,
            with_weights=snap.with_weights,
            subnet=sub,
        )


@dataclass(frozen=True)
class MetagraphDiff:
    """What changed between two snapshots of the same subnet."""

    new_uids: list[int]
    #: ``(uid, old_hotkey, new_hotkey)`` for uids whose neuron was replaced
    replaced: list[tuple[int, str, str]]
    #: hotkeys present before and gone now
    deregistered: list[str]
    #: uids whose endpoint (ip, port, protocol, version, certificate) changed
    endpoint_changes: list[int]
    #: ``(uid, had_permit, has_permit)``
    permit_changes: list[tuple[int, bool, bool]]

    @property
    def empty(self) -> bool:
        return not (
            self.new_uids
            or self.replaced
            or self.deregistered
            or self.endpoint_changes
            or self.permit_changes
        )


def _endpoint_key(axon: AxonInfo) -> tuple[Any, ...]:
    return (axon.ip, axon.port, axon.protocol, axon.version, axon.certificate_fingerprint)


def diff(old: Metagraph, new: Metagraph) -> MetagraphDiff:
    """List new uids, replaced hotkeys, deregistrations, endpoint and permit changes."""
    if old.netuid != new.netuid:
        raise ValueError(f"cannot diff subnet {old.netuid} against subnet {new.netuid}")
    common = min(old.n, new.n)
    replaced = [
        (uid, old.hotkeys[uid], new.hotkeys[uid])
        for uid in range(common)
        if old.hotkeys[uid] != new.hotkeys[uid]
    ]
    replaced_uids = {uid for uid, _, _ in replaced}
    endpoint_changes = [
        uid
        for uid in range(common)
        if uid not in replaced_uids
        and _endpoint_key(old.axons[uid]) != _endpoint_key(new.axons[uid])
    ]
    old_permit, new_permit = old.validator_permit.tolist(), new.validator_permit.tolist()
    permit_changes = [
        (uid, bool(old_permit[uid]), bool(new_permit[uid]))
        for uid in range(common)
        if old_permit[uid] != new_permit[uid]
    ]
    still = set(new.hotkeys)
    return MetagraphDiff(
        new_uids=list(range(old.n, new.n)),
        replaced=replaced,
        deregistered=[h for h in old.hotkeys if h not in still],
        endpoint_changes=endpoint_changes,
        permit_changes=permit_changes,
    )

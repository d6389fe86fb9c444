"""What the local network shows: per-epoch neuron rows, the live table, the summary.

Rows are read from the chain's per-neuron records (exact integers: u16 fractions, rao), not from
the torch ``Metagraph``, so the localnet process never loads torch and the JSON summary carries
the chain's numbers unrounded next to the human units (fractions, TAO/alpha).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from subnetkit.chain.client import ChainClient
    from subnetkit.localnet.provision import Network

RAO = 1e9
U16 = 65535.0


@dataclass(slots=True)
class NeuronRow:
    """One neuron as of the last epoch."""

    uid: int
    name: str
    role: str
    variant: str | None
    hotkey: str
    stake_rao: int
    incentive_u16: int
    dividends_u16: int
    emission_rao: int
    validator_trust_u16: int
    validator_permit: bool
    emission_total_rao: int = 0

    @property
    def incentive(self) -> float:
        return self.incentive_u16 / U16

    @property
    def dividends(self) -> float:
        return self.dividends_u16 / U16

    @property
    def trust(self) -> float:
        return self.validator_trust_u16 / U16

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "variant": self.variant,
            "uid": self.uid,
            "hotkey": self.hotkey,
            "stake": self.stake_rao / RAO,
            "incentive": round(self.incentive, 6),
            "dividends": round(self.dividends, 6),
            "emission": self.emission_rao / RAO,
            "emission_total": self.emission_total_rao / RAO,
            "validator_trust": round(self.trust, 6),
            "validator_permit": self.validator_permit,
            "raw": {
                "stake_rao": self.stake_rao,
                "incentive_u16": self.incentive_u16,
                "dividends_u16": self.dividends_u16,
                "emission_rao": self.emission_rao,
                "emission_total_rao": self.emission_total_rao,
            },
        }


@dataclass
class EpochTracker:
    """Accumulates what each counted epoch paid; the summary is built from it.

    Counting starts at the first epoch after every validator has submitted weights (see
    ``Localnet._follow_epochs``); the epochs before that are a warm-up, not counted.
    """

    network: Network
    subnet: str
    target_epochs: int | None
    epochs: int = 0
    block: int = 0
    first_block: int = 0
    owner_stake_start: int | None = None
    owner_stake: int = 0
    rows: list[NeuronRow] = field(default_factory=list)
    totals: dict[int, int] = field(default_factory=dict)

    async def refresh(self, client: ChainClient, *, counted: bool) -> list[NeuronRow]:
        """Read every neuron and the owner's stake now; add the emissions if ``counted``."""
        net = self.network
        info = await client.subnet_info(net.netuid)
        uids = range(int(info.n))
        neurons = await asyncio.gather(*(client.neuron(net.netuid, uid=u) for u in uids))
        self.owner_stake = await client.stake(net.netuid, net.owner_hotkey)
        by_uid = net.by_uid()
        rows = []
        for nrn in neurons:
            if nrn is None:
                continue
            keys = by_uid.get(int(nrn.uid))
            if keys is not None and keys.hotkey.ss58 == nrn.hotkey:
                name, role, variant = keys.name, keys.plan.role, keys.plan.variant
            elif nrn.hotkey == net.owner_hotkey:
                name, role, variant = "owner", "owner", None
            else:
                name, role, variant = f"uid-{nrn.uid}", "other", None
            if counted:
                self.totals[int(nrn.uid)] = self.totals.get(int(nrn.uid), 0) + int(nrn.emission)
            rows.append(
                NeuronRow(
                    uid=int(nrn.uid),
                    name=name,
                    role=role,
                    variant=variant,
                    hotkey=nrn.hotkey,
                    stake_rao=int(nrn.stake),
                    incentive_u16=int(nrn.incentive),
                    dividends_u16=int(nrn.dividends),
                    emission_rao=int(nrn.emission),
                    validator_trust_u16=int(nrn.validator_trust),
                    validator_permit=bool(nrn.validator_permit),
                    emission_total_rao=self.totals.get(int(nrn.uid), 0),
                )
            )
        self.rows = rows
        return rows

    @property
    def warming_up(self) -> bool:
        """True until counting starts."""
        return self.owner_stake_start is None

    def start_counting(self) -> None:
        self.owner_stake_start = self.owner_stake
        self.first_block = self.block

    @property
    def owner_emission_rao(self) -> int:
        if self.owner_stake_start is None:
            return 0
        return self.owner_stake - self.owner_stake_start

    def summary(self, *, interrupted: bool = False) -> dict[str, Any]:
        """The run as one JSON-able object (the ``--format json`` output)."""
        net = self.network
        neurons = [r.to_json() for r in self.rows if r.role in ("miner", "validator")]
        return {
            "subnet": self.subnet,
            "netuid": net.netuid,
            "epochs": self.epochs,
            "epochs_requested": self.target_epochs,
            "interrupted": interrupted,
            "blocks": self.block,
            "first_block": self.first_block,
            "commit_reveal": net.commit_reveal,
            "owner": {
                "hotkey": net.owner_hotkey,
                "coldkey": net.owner_coldkey,
                "emission": self.owner_emission_rao / RAO,
                "emission_rao": self.owner_emission_rao,
            },
            "owner_emission": self.owner_emission_rao / RAO,
            # the owner's uid-0 emission is staked to the owner hotkey, so it is inside
            # owner_emission already
            "emission_total": (
                sum(r.emission_total_rao for r in self.rows if r.role != "owner")
                + self.owner_emission_rao
            )
            / RAO,
            "neurons": neurons,
        }


def short(hotkey: str) -> str:
    return f"{hotkey[:6]}…{hotkey[-4:]}" if len(hotkey) > 12 else hotkey


def render_table(rows: Sequence[NeuronRow], title: str, caption: str = "") -> Table:
    """The metagraph as a rich table: one row per uid."""
    from rich.table import Table

    table = Table(title=title, caption=caption or None, expand=False)
    for header, justify in (
        ("uid", "right"),
        ("name", "left"),
        ("hotkey", "left"),
        ("stake α", "right"),
        ("incentive", "right"),
        ("dividends", "right"),
        ("emission α", "right"),
        ("total α", "right"),
        ("vtrust", "right"),
        ("permit", "center"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            str(r.uid),
            r.name,
            short(r.hotkey),
            f"{r.stake_rao / RAO:,.3f}",
            f"{r.incentive:.4f}",
            f"{r.dividends:.4f}",
            f"{r.emission_rao / RAO:.4f}",
            f"{r.emission_total_rao / RAO:.4f}",
            f"{r.trust:.4f}",
            "✓" if r.validator_permit else "",
        )
    return table


def epoch_line(tracker: EpochTracker) -> str:
    """One line per epoch for logs and pipes (stderr when stdout is not a terminal)."""
    target = f"/{tracker.target_epochs}" if tracker.target_epochs else ""
    parts = [f"epoch {tracker.epochs}{target} block {tracker.block}:"]
    for r in tracker.rows:
        if r.role == "miner":
            parts.append(f"{r.name}(uid {r.uid}) I={r.incentive:.3f} E={r.emission_rao / RAO:.3f}")
        elif r.role == "validator":
            parts.append(
                f"{r.name}(uid {r.uid}) D={r.dividends:.3f} E={r.emission_rao / RAO:.3f}"
                f"{' permit' if r.validator_permit else ''}"
            )
    parts.append(f"owner +{tracker.owner_emission_rao / RAO:.3f}")
    return "  ".join(parts)

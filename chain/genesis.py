"""Genesis: the chain's starting state, and the dev profile used by ``chain start --dev``.

The genesis config is stored in the data dir with the chain, so a restart or a replay rebuilds
exactly the same block 0 whatever flags it is started with.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from subnetkit.chain import hyperparams
from subnetkit.chain.fees import FeeSchedule
from subnetkit.chain.records import Account
from subnetkit.chain.state import State
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import DEV_ACCOUNTS, dev_signer, is_valid_ss58

TAO = 1_000_000_000
#: subtensor's runtime TaoWeight (/u64::MAX, 0.0527) and default delegate take (/65535, 18%)
DEFAULT_TAO_WEIGHT = 971_718_665_099_567_868
DEFAULT_DELEGATE_TAKE = 11_796
U64_MAX = 2**64 - 1
#: the on/off mechanisms (docs/epoch.md §10), each a genesis flag
MECHANISMS = ("root", "delegation", "childkeys")
#: what each dev account starts with
DEV_BALANCE = 1_000_000 * TAO
#: subnet lock cost in the dev profile (subtensor's minimum lock is 1000 TAO on mainnet)
DEV_LOCK_COST = 100 * TAO


@dataclass(frozen=True)
class GenesisConfig:
    balances: dict[str, int] = field(default_factory=dict)
    sudo: str | None = None
    hyperparams: dict[str, int] = field(default_factory=lambda: dict(hyperparams.DEFAULTS))
    lock_cost: int = 1000 * TAO
    timestamp_ms: int = 0
    dev: bool = False
    #: "dynamic" (subtensor since May 2026) or "legacy" (``(b + netuid + 1) % (tempo + 1)``),
    #: docs/epoch.md §3. A stored genesis without the field predates it: legacy.
    epoch_schedule: str = "dynamic"
    #: root network and root proportion (docs/epoch.md §10.2)
    root: bool = False
    #: validator take and nominator payouts (docs/epoch.md §10.3)
    delegation: bool = False
    #: parent/child stake weight and childkey take (docs/epoch.md §10.4)
    childkeys: bool = False
    tao_weight: int = DEFAULT_TAO_WEIGHT
    delegate_take: int = DEFAULT_DELEGATE_TAKE
    #: fees and size limits (chain/fees.py, docs/chain.md "Fees and pool limits")
    fees: FeeSchedule = field(default_factory=FeeSchedule)

    def mechanisms(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in MECHANISMS}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> GenesisConfig:
        """Parse and validate a genesis file; a bad field gets a one-line ConfigError."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"genesis is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError("genesis must be a JSON object")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ConfigError(f"genesis has unknown field(s): {', '.join(sorted(unknown))}")
        balances = raw.get("balances", {})
        if not isinstance(balances, dict):
            raise ConfigError("genesis.balances must map SS58 addresses to rao amounts")
        for who, amount in balances.items():
            if not is_valid_ss58(who):
                raise ConfigError(f"genesis.balances: {who!r} is not an SS58 address")
            if not isinstance(amount, int) or amount < 0:
                raise ConfigError(f"genesis.balances[{who}] must be a non-negative integer (rao)")
        sudo = raw.get("sudo")
        if sudo is not None and not is_valid_ss58(sudo):
            raise ConfigError(f"genesis.sudo {sudo!r} is not an SS58 address")
        hp = dict(hyperparams.DEFAULTS)
        for name, value in raw.get("hyperparams", {}).items():
            if name not in hyperparams.SPECS or not isinstance(value, int):
                raise ConfigError(f"genesis.hyperparams.{name}: unknown name or not an integer")
            hp[name] = value
        schedule = raw.get("epoch_schedule", "legacy")
        if schedule not in ("legacy", "dynamic"):
            raise ConfigError(f"genesis.epoch_schedule {schedule!r}: use 'legacy' or 'dynamic'")
        tao_weight = raw.get("tao_weight", DEFAULT_TAO_WEIGHT)
        if not isinstance(tao_weight, int) or not 0 <= tao_weight <= U64_MAX:
            raise ConfigError("genesis.tao_weight must be an integer in 0..2^64-1 (/u64::MAX)")
        take = raw.get("delegate_take", DEFAULT_DELEGATE_TAKE)
        if not isinstance(take, int) or not 0 <= take <= 65535:
            raise ConfigError("genesis.delegate_take must be an integer in 0..65535 (/65535)")
        return cls(
            balances=balances,
            sudo=sudo,
            hyperparams=hp,
            lock_cost=int(raw.get("lock_cost", 1000 * TAO)),
            timestamp_ms=int(raw.get("timestamp_ms", 0)),
            dev=bool(raw.get("dev", False)),
            epoch_schedule=schedule,
            root=bool(raw.get("root", False)),
            delegation=bool(raw.get("delegation", False)),
            childkeys=bool(raw.get("childkeys", False)),
            tao_weight=tao_weight,
            delegate_take=take,
            fees=FeeSchedule.from_mapping(raw.get("fees", {})),
        )


def dev_genesis(timestamp_ms: int | None = None, **options: object) -> GenesisConfig:
    """``//Alice`` .. ``//Ferdie`` funded, Alice as sudo, the dev hyperparameter profile;
    ``options`` are further GenesisConfig fields (``epoch_schedule``, ``root``, ...)."""
    hp = dict(hyperparams.DEFAULTS)
    hp.update(hyperparams.DEV_OVERRIDES)
    return GenesisConfig(
        balances={dev_signer(name).ss58: DEV_BALANCE for name in DEV_ACCOUNTS},
        sudo=dev_signer("alice").ss58,
        hyperparams=hp,
        lock_cost=DEV_LOCK_COST,
        timestamp_ms=int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        dev=True,
        **options,  # type: ignore[arg-type]
    )


def genesis_state(cfg: GenesisConfig) -> State:
    state = State()
    for who, amount in sorted(cfg.balances.items()):
        state.put("acct", (who,), Account(balance=amount))
    state.put("sys", ("issuance",), sum(cfg.balances.values()))
    state.put("sys", ("sudo",), cfg.sudo)
    state.put("sys", ("lock_cost",), cfg.lock_cost)
    state.put("sys", ("hp_defaults",), dict(sorted(cfg.hyperparams.items())))
    # Written only when set, so a chain without them keeps the genesis state it always had.
    if cfg.epoch_schedule != "legacy":
        state.put("sys", ("epoch_schedule",), cfg.epoch_schedule)
    if cfg.fees.state_value() != FeeSchedule().state_value():
        state.put("sys", ("fees",), cfg.fees.state_value())
    on = [name for name, enabled in cfg.mechanisms().items() if enabled]
    if on:
        state.put("sys", ("mechanisms",), tuple(on))
        state.put("sys", ("tao_weight",), cfg.tao_weight)
        state.put("sys", ("delegate_take",), cfg.delegate_take)
    state.flush()
    return state

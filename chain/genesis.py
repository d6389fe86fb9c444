"""Genesis: the chain's starting state, and the dev profile used by ``chain start --dev``.

The genesis config is stored in the data dir with the chain, so a restart or a replay rebuilds
exactly the same block 0 whatever flags it is started with.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from subnetkit.chain import hyperparams
from subnetkit.chain.records import Account
from subnetkit.chain.state import State
from subnetkit.core.errors import ConfigError
from subnetkit.core.keys import DEV_ACCOUNTS, dev_signer, is_valid_ss58

TAO = 1_000_000_000
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
        return cls(
            balances=balances,
            sudo=sudo,
            hyperparams=hp,
            lock_cost=int(raw.get("lock_cost", 1000 * TAO)),
            timestamp_ms=int(raw.get("timestamp_ms", 0)),
            dev=bool(raw.get("dev", False)),
        )


def dev_genesis(timestamp_ms: int | None = None) -> GenesisConfig:
    """``//Alice`` .. ``//Ferdie`` funded, Alice as sudo, the dev hyperparameter profile."""
    hp = dict(hyperparams.DEFAULTS)
    hp.update(hyperparams.DEV_OVERRIDES)
    return GenesisConfig(
        balances={dev_signer(name).ss58: DEV_BALANCE for name in DEV_ACCOUNTS},
        sudo=dev_signer("alice").ss58,
        hyperparams=hp,
        lock_cost=DEV_LOCK_COST,
        timestamp_ms=int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        dev=True,
    )


def genesis_state(cfg: GenesisConfig) -> State:
    state = State()
    for who, amount in sorted(cfg.balances.items()):
        state.put("acct", (who,), Account(balance=amount))
    state.put("sys", ("issuance",), sum(cfg.balances.values()))
    state.put("sys", ("sudo",), cfg.sudo)
    state.put("sys", ("lock_cost",), cfg.lock_cost)
    state.put("sys", ("hp_defaults",), dict(sorted(cfg.hyperparams.items())))
    state.flush()
    return state

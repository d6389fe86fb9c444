"""What a call handler sees: the state, the block, the signer, and typed state accessors.

Accessors that must find something raise a typed :class:`chain.errors.DispatchError` with a
message that says what to do, so handlers read as a list of checks and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from subnetkit.chain.errors import fail
from subnetkit.chain.records import Account, Neuron, Subnet
from subnetkit.chain.state import State
from subnetkit.core.keys import is_valid_ss58

TAO = 1_000_000_000


def fmt_tao(rao: int) -> str:
    return f"{rao / TAO:.9f} TAO ({rao} rao)"


@dataclass(slots=True)
class EventSink:
    """Events of one block, in order, tagged with the extrinsic index that caused them."""

    events: list[tuple[str, dict[str, Any], int | None]] = field(default_factory=list)
    current: int | None = None

    def emit(self, event: str, /, **data: Any) -> None:
        self.events.append((event, data, self.current))

    def mark(self) -> int:
        return len(self.events)

    def truncate(self, mark: int) -> None:
        del self.events[mark:]

    @staticmethod
    def to_json(data: dict[str, Any]) -> str:
        return json.dumps(data, separators=(",", ":"), sort_keys=True)


@dataclass(slots=True)
class Ctx:
    state: State
    block: int
    events: EventSink
    signer: str = ""

    def emit(self, event: str, /, **data: Any) -> None:
        self.events.emit(event, **data)

    # -- system -------------------------------------------------------------------------------
    def sys(self, name: str, default: Any = None) -> Any:
        return self.state.get("sys", (name,), default)

    def set_sys(self, name: str, value: Any) -> None:
        self.state.put("sys", (name,), value)

    # -- accounts -----------------------------------------------------------------------------
    def account(self, ss58: str) -> Account:
        return self.state.get("acct", (ss58,)) or Account()

    def set_account(self, ss58: str, acct: Account) -> None:
        self.state.put("acct", (ss58,), acct)

    def credit(self, ss58: str, rao: int) -> None:
        acct = self.account(ss58)
        self.set_account(ss58, replace(acct, balance=acct.balance + rao))

    def debit(self, ss58: str, rao: int, what: str) -> None:
        acct = self.account(ss58)
        if acct.balance < rao:
            raise fail(
                "insufficient_balance",
                f"{what} needs {fmt_tao(rao)} but {ss58} has {fmt_tao(acct.balance)} free; "
                "fund the coldkey (transfer) or use a smaller amount",
            )
        self.set_account(ss58, replace(acct, balance=acct.balance - rao))

    def add_issuance(self, delta: int) -> None:
        self.set_sys("issuance", self.sys("issuance", 0) + delta)

    # -- subnets and neurons ------------------------------------------------------------------
    def subnet(self, netuid: int) -> Subnet:
        sn: Subnet | None = self.state.get("subnet", (netuid,))
        if sn is None:
            raise fail("subnet_not_found", f"subnet {netuid} does not exist; list_subnets shows it")
        return sn

    def set_subnet(self, sn: Subnet) -> None:
        self.state.put("subnet", (sn.netuid,), sn)

    def uid_of(self, netuid: int, hotkey: str) -> int | None:
        uid: int | None = self.state.get("uid", (netuid, hotkey))
        return uid

    def registered_uid(self, netuid: int, hotkey: str) -> int:
        uid = self.uid_of(netuid, hotkey)
        if uid is None:
            raise fail(
                "not_registered",
                f"hotkey {hotkey} is not registered on subnet {netuid}; "
                "register it first (burned_register)",
            )
        return uid

    def neuron(self, netuid: int, uid: int) -> Neuron:
        neuron: Neuron = self.state.get("neuron", (netuid, uid))
        return neuron

    def set_neuron(self, netuid: int, uid: int, neuron: Neuron) -> None:
        self.state.put("neuron", (netuid, uid), neuron)

    def hotkey_stake(self, netuid: int, hotkey: str) -> int:
        stake: int = self.state.get("hstake", (netuid, hotkey), 0)
        return stake

    def stake_of(self, netuid: int, hotkey: str, coldkey: str) -> int:
        stake: int = self.state.get("stake", (netuid, hotkey, coldkey), 0)
        return stake

    def change_stake(self, netuid: int, hotkey: str, coldkey: str, delta: int) -> None:
        own = self.stake_of(netuid, hotkey, coldkey) + delta
        total = self.hotkey_stake(netuid, hotkey) + delta
        assert own >= 0 and total >= 0, "stake went negative"
        if own:
            self.state.put("stake", (netuid, hotkey, coldkey), own)
        else:
            self.state.delete("stake", (netuid, hotkey, coldkey))
        if total:
            self.state.put("hstake", (netuid, hotkey), total)
        else:
            self.state.delete("hstake", (netuid, hotkey))


def require_address(value: str, what: str) -> str:
    if not is_valid_ss58(value):
        raise fail("bad_address", f"{what} {value!r} is not a valid SS58 address")
    return value

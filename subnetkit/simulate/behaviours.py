"""What each simulated miner does: the framework's behaviours and the subnet's own variants.

Every behaviour is the subnet's real ``Miner`` behind a real ``MinerServer`` (in-process), with
at most one handler swapped, so what a validator meets is what it would meet on a network:

* ``good``: the subnet's own miner (its default variant);
* ``random``: well-formed random responses (every field of the response message random);
* ``offline``: registered on chain but never serving (validators get UNAVAILABLE);
* ``slow``: the good answer, after ``slow_fraction`` of the validators' timeout;
* ``intermittent``: the good answer to every other request, an error to the rest;
* ``multi``: good miners whose hotkeys all belong to one coldkey (one owner, many uids);
* any variant the subnet declares (embedding's ``noisy``), built by the subnet itself.

``--miners good=64,noisy=32,random=16`` lists behaviours with their counts, in uid order.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from subnetkit.core.errors import ConfigError
from subnetkit.core.subnet_spec import SubnetSpec, build_component
from subnetkit.miner.limits import refusal

FRAMEWORK_BEHAVIOURS = ("good", "random", "offline", "slow", "intermittent", "multi")
_PART = re.compile(r"^\s*([a-z][a-z0-9_-]*)\s*=\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class BehaviourCount:
    name: str
    count: int


def parse_counts(text: str, known: tuple[str, ...], flag: str) -> list[BehaviourCount]:
    """``"good=8,random=8"`` -> counts; ConfigError names an unknown behaviour or a bad part."""
    out: list[BehaviourCount] = []
    for part in text.split(","):
        match = _PART.match(part)
        if match is None:
            raise ConfigError(f"{flag} part {part.strip()!r} is not NAME=COUNT (e.g. good=8)")
        name, count = match[1], int(match[2])
        if name not in known:
            raise ConfigError(f"{flag}: unknown behaviour {name!r}; choose from {', '.join(known)}")
        if any(b.name == name for b in out):
            raise ConfigError(f"{flag}: {name} is listed twice")
        if count > 0:
            out.append(BehaviourCount(name, count))
    if not out:
        raise ConfigError(f"{flag} lists nobody: give at least one NAME=COUNT above 0")
    return out


def miner_behaviours(spec: SubnetSpec) -> tuple[str, ...]:
    """The framework's behaviours plus the subnet's own variants (which may rename ``good``)."""
    return tuple(dict.fromkeys((*FRAMEWORK_BEHAVIOURS, *spec.variants)))


def random_message(cls: type[Message], rng: random.Random, depth: int = 0) -> Message:
    """A message of ``cls`` with every field set to a random valid value (nested to depth 3)."""
    message = cls()
    for field in cls.DESCRIPTOR.fields:
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= 3 or field.message_type.GetOptions().map_entry:
                continue
            sub = GetMessageClass(field.message_type)
            if repeated:
                for _ in range(rng.randint(1, 3)):
                    getattr(message, field.name).add().CopyFrom(random_message(sub, rng, depth + 1))
            else:
                getattr(message, field.name).CopyFrom(random_message(sub, rng, depth + 1))
            continue
        values = [_random_scalar(field, rng) for _ in range(rng.randint(1, 4) if repeated else 1)]
        if repeated:
            getattr(message, field.name).extend(values)
        else:
            setattr(message, field.name, values[0])
    return message


def _random_scalar(field: FieldDescriptor, rng: random.Random) -> Any:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return f"{rng.getrandbits(128):032x}"
    if t == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randint(1, 64))
    if t == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return rng.uniform(-1.0, 1.0)
    if t == FieldDescriptor.TYPE_ENUM:
        return rng.choice(field.enum_type.values).number
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return rng.getrandbits(31)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return rng.getrandbits(63)
    return rng.randint(-(2**30), 2**30)  # the signed integer types


def build_behaviour_miner(
    spec: SubnetSpec,
    behaviour: str,
    method_name: str,
    response_cls: type[Message],
    *,
    settings: Any,
    timeout: float,
    slow_fraction: float,
    rng: random.Random,
) -> Any:
    """The subnet's miner for ``behaviour`` (see the module docstring); ``offline`` still builds
    one (it is registered, just never served)."""
    cls = spec.class_for("miner")
    variant = behaviour if behaviour in spec.variants else spec.pick_variant(None)
    miner = build_component(cls, settings, variant)
    if behaviour in spec.variants or behaviour in ("good", "offline", "multi"):
        return miner
    original: Callable[..., Any] = getattr(miner, method_name)
    is_async = inspect.iscoroutinefunction(original)
    if behaviour == "random":

        async def random_answer(request: Message, context: Any) -> Message:
            return random_message(response_cls, rng)

        setattr(miner, method_name, random_answer)
    elif behaviour == "slow":
        setattr(miner, method_name, _delayed(original, is_async, slow_fraction * timeout))
    elif behaviour == "intermittent":
        setattr(miner, method_name, _every_other(original, is_async))
    return miner


def _delayed(original: Callable[..., Any], is_async: bool, delay: float) -> Callable[..., Any]:
    if is_async:

        async def slow(request: Message, context: Any) -> Any:
            await asyncio.sleep(delay)
            return await original(request, context)

        return slow

    def slow_sync(request: Message, context: Any) -> Any:  # runs in the miner's worker thread
        time.sleep(delay)
        return original(request, context)

    return slow_sync


def _every_other(original: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    calls = [0]

    def check() -> None:
        """Every other request is refused with UNAVAILABLE, as an overloaded miner does."""
        calls[0] += 1
        if calls[0] % 2 == 0:
            raise refusal(grpc.StatusCode.UNAVAILABLE, "intermittent miner: down for this one")

    if is_async:

        async def flaky(request: Message, context: Any) -> Any:
            check()
            return await original(request, context)

        return flaky

    def flaky_sync(request: Message, context: Any) -> Any:
        check()
        return original(request, context)

    return flaky_sync


__all__ = [
    "FRAMEWORK_BEHAVIOURS",
    "BehaviourCount",
    "build_behaviour_miner",
    "miner_behaviours",
    "parse_counts",
    "random_message",
]

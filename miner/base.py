"""The ``Miner`` base class: a subnet's service implemented as plain methods, one per synapse.

A subclass names its service (``service = (echo_pb2, "Echo")``) and defines one method per
RPC, named exactly like the RPC. ``async def`` methods run on the event loop; plain ``def``
methods run in a worker thread so CPU-bound or blocking code (torch, files) never stalls the
server. Server-streaming RPCs are
(async) generators yielding response messages. Handlers are found from the descriptor, so there
is no servicer glue to write, and a missing or mis-shaped method is reported by name when the
server starts instead of as UNIMPLEMENTED at the first request.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from google.protobuf.descriptor import ServiceDescriptor

from subnetkit.core.errors import ConfigError
from subnetkit.wire.methods import MethodSpec, ServiceRef, resolve_service, service_methods


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a handler knows about the request it serves (all of it already verified)."""

    caller: str  # the caller's hotkey (SS58); its signature has been checked
    caller_crypto: str
    nonce: int
    method: str  # full path, e.g. "/subnets.echo.v1.Echo/Echo"
    synapse: str  # the RPC name, e.g. "Echo"
    deadline: float | None  # time.monotonic() at which the caller stops waiting, if it set one

    def time_remaining(self) -> float | None:
        """Seconds until the caller's deadline (None if it set none)."""
        return None if self.deadline is None else self.deadline - time.monotonic()


class Miner:
    """Base class for a subnet's miner. Subclass it, set ``service``, implement each RPC.

    ``blacklist(caller) -> reason | None`` and ``priority(caller) -> float`` are hooks the server
    calls for every request (both may be ``async``); override them here or pass them to
    :class:`miner.MinerServer`. The defaults allow everyone and serve in arrival order.
    """

    #: The subnet's service: ``(echo_pb2, "Echo")``, a full name, or a ``ServiceDescriptor``.
    service: ClassVar[ServiceRef]

    def blacklist(self, caller: str) -> str | None:
        """A reason to refuse ``caller`` (PERMISSION_DENIED), or None to serve it."""
        return None

    def priority(self, caller: str) -> float:
        """Higher is served first when requests queue; equal priorities are served FIFO."""
        return 0.0


@dataclass(frozen=True, slots=True)
class BoundSynapse:
    """One RPC of the service bound to the miner's method, with how to call it."""

    spec: MethodSpec
    handler: Callable[..., Any]
    is_async: bool  # coroutine function / async generator: runs on the loop


def _service_of(cls: type[Miner]) -> ServiceDescriptor:
    """The descriptor ``cls.service`` names; ConfigError says how to name it."""
    ref = getattr(cls, "service", None)
    if ref is None:
        raise ConfigError(f"{cls.__name__}.service is not set: write service = (echo_pb2, 'Echo')")
    try:
        return resolve_service(ref)
    except ConfigError as exc:
        raise ConfigError(f"{cls.__name__}.service: {exc.message}") from None


def bind_synapses(miner: Miner) -> dict[str, BoundSynapse]:
    """Map each RPC path of ``miner.service`` to its handler; ConfigError names every problem."""
    service = _service_of(type(miner))
    bound: dict[str, BoundSynapse] = {}
    problems: list[str] = []
    for spec in service_methods(service):
        handler = getattr(miner, spec.name, None)
        where = f"{type(miner).__name__}.{spec.name}"
        if spec.client_streaming:
            problems.append(f"{spec.name}: client-streaming RPCs are not supported")
            continue
        if handler is None or not callable(handler):
            kind = "a generator" if spec.server_streaming else "a method"
            problems.append(f"missing {where} ({kind} taking (request, context))")
            continue
        if spec.server_streaming:
            if inspect.isasyncgenfunction(handler):
                is_async = True
            elif inspect.isgeneratorfunction(handler):
                is_async = False
            else:
                problems.append(f"{where} must be a generator (use yield): {spec.name} streams")
                continue
        else:
            if inspect.isasyncgenfunction(handler) or inspect.isgeneratorfunction(handler):
                problems.append(f"{where} must return one message, not yield: it is unary")
                continue
            is_async = inspect.iscoroutinefunction(handler)
        bound[spec.path] = BoundSynapse(spec, handler, is_async)
    if problems:
        raise ConfigError(
            f"{type(miner).__name__} cannot serve {service.full_name}: " + "; ".join(problems)
        )
    return bound

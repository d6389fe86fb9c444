"""The signed gRPC wire shared by miners and validators (protocol v1, see docs/protocol.md)."""

from subnetkit.wire.methods import MethodSpec, resolve_method, service_methods
from subnetkit.wire.protocol import PROTOCOL_VERSION, NonceClock
from subnetkit.wire.replay import ReplayCache, ReplayCacheFull

__all__ = [
    "PROTOCOL_VERSION",
    "MethodSpec",
    "NonceClock",
    "ReplayCache",
    "ReplayCacheFull",
    "resolve_method",
    "service_methods",
]

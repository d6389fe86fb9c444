"""The signed gRPC wire shared by miners and validators (protocol v1, see docs/protocol.md)."""

from subnetkit.wire.methods import MethodSpec, resolve_method, service_methods
from subnetkit.wire.nonce_cache import NonceCache, NonceCacheFull
from subnetkit.wire.protocol import PROTOCOL_VERSION, NonceClock

__all__ = [
    "PROTOCOL_VERSION",
    "MethodSpec",
    "NonceCache",
    "NonceCacheFull",
    "NonceClock",
    "resolve_method",
    "service_methods",
]

"""The signed gRPC wire shared by miners and validators (protocol v1, see docs/protocol.md)."""

from subnetkit.wire.methods import (
    MethodRef,
    MethodSpec,
    ServiceRef,
    resolve_method,
    resolve_service,
    service_methods,
)
from subnetkit.wire.nonce_cache import NonceCache, NonceCacheFull
from subnetkit.wire.protocol import PROTOCOL_VERSION, NonceClock

__all__ = [
    "PROTOCOL_VERSION",
    "MethodRef",
    "MethodSpec",
    "NonceCache",
    "NonceCacheFull",
    "NonceClock",
    "ServiceRef",
    "resolve_method",
    "resolve_service",
    "service_methods",
]

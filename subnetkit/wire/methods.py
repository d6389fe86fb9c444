"""Synapses as the service descriptor describes them: path, message classes, streaming or not.

Both ends work from the ``.proto``'s descriptors instead of generated servicer/stub glue: the
miner registers raw-bytes handlers (so it hashes and verifies the exact bytes before parsing) and
the client sends raw bytes (so it signs exactly what goes on the wire). Message classes come from
``GetMessageClass`` on the descriptor, which returns the generated class when it is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from subnetkit.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One synapse (RPC) of a subnet's service."""

    path: str  # "/subnets.echo.v1.Echo/Echo": the gRPC method path, also what is signed
    name: str  # "Echo": the synapse name used in metrics and logs
    service: str  # "subnets.echo.v1.Echo"
    request_cls: type[Message]
    response_cls: type[Message]
    server_streaming: bool
    client_streaming: bool


@lru_cache(maxsize=1024)
def method_spec(method: MethodDescriptor) -> MethodSpec:
    """The spec of one RPC descriptor (cached: both ends look it up on every call)."""
    service = method.containing_service.full_name
    return MethodSpec(
        path=f"/{service}/{method.name}",
        name=method.name,
        service=service,
        request_cls=GetMessageClass(method.input_type),
        response_cls=GetMessageClass(method.output_type),
        server_streaming=method.server_streaming,
        client_streaming=method.client_streaming,
    )


@lru_cache(maxsize=1024)
def _by_name(name: str) -> MethodSpec:
    dotted = name.lstrip("/").replace("/", ".")
    try:
        descriptor = descriptor_pool.Default().FindMethodByName(dotted)
    except KeyError:
        raise ConfigError(
            f"unknown synapse {name!r}: pass a MethodDescriptor or a path like "
            "'/subnets.echo.v1.Echo/Echo', and import the subnet's *_pb2 module first"
        ) from None
    return method_spec(descriptor)


def resolve_method(method: str | MethodDescriptor) -> MethodSpec:
    """The spec of a descriptor, a ``/pkg.Service/Method`` path or a ``pkg.Service.Method`` name."""
    if isinstance(method, MethodDescriptor):
        return method_spec(method)
    return _by_name(method)


def service_methods(service: ServiceDescriptor) -> list[MethodSpec]:
    """Every RPC of ``service``: the miner binds one handler per entry, none written by hand."""
    return [method_spec(m) for m in service.methods]

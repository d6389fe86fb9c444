"""Synapses as the service descriptor describes them: path, message classes, streaming or not.

Both ends work from the ``.proto``'s descriptors instead of generated servicer/stub glue: the
miner registers raw-bytes handlers (so it hashes and verifies the exact bytes before parsing) and
the client sends raw bytes (so it signs exactly what goes on the wire). Message classes come from
``GetMessageClass`` on the descriptor, which returns the generated class when it is imported.

A subnet names its service and RPCs the short way, as it wrote them in its ``.proto``:

* a service: ``(echo_pb2, "Echo")``, ``"Echo"`` or ``"subnets.echo.v1.Echo"``;
* an RPC: ``(echo_pb2, "Echo.Echo")``, ``"Echo.Echo"``, ``"subnets.echo.v1.Echo.Echo"`` or the
  gRPC path ``"/subnets.echo.v1.Echo/Echo"``; ``(echo_pb2, "Echo")`` when the module holds one
  service.

A short name without a module is looked up among the generated ``*_pb2`` modules imported so
far and must match exactly one service. Descriptors are accepted everywhere too.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TypeAlias

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor
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


#: A service as a subnet names it: a descriptor, ``(module, "Service")`` or a (short) name.
ServiceRef: TypeAlias = ServiceDescriptor | tuple[ModuleType, str] | str
#: An RPC as a subnet names it: a descriptor, ``(module, "Service.Method")`` or a (short) name.
MethodRef: TypeAlias = MethodSpec | MethodDescriptor | tuple[ModuleType, str] | str

_SERVICE_EXAMPLE = "(echo_pb2, 'Echo') or 'subnets.echo.v1.Echo'"
_METHOD_EXAMPLE = "(echo_pb2, 'Echo.Echo') or '/subnets.echo.v1.Echo/Echo'"


def _loaded_services(name: str) -> list[ServiceDescriptor]:
    """Services called ``name`` in the generated modules imported so far."""
    found: dict[str, ServiceDescriptor] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "DESCRIPTOR", None)
        if isinstance(file, FileDescriptor) and name in file.services_by_name:
            service = file.services_by_name[name]
            found[service.full_name] = service
    return list(found.values())


def _module_service(module: ModuleType, name: str | None) -> ServiceDescriptor:
    """Service ``name`` of a generated module (``None``: its only service)."""
    file = getattr(module, "DESCRIPTOR", None)
    if not isinstance(file, FileDescriptor):
        raise ConfigError(f"{module.__name__} is not a generated *_pb2 module (no DESCRIPTOR)")
    services = file.services_by_name
    if name is None:
        if len(services) != 1:
            raise ConfigError(
                f"{module.__name__} defines {len(services)} services: name the RPC as "
                "'Service.Method'"
            )
        return next(iter(services.values()))
    if name not in services:
        known = ", ".join(sorted(services)) or "none"
        raise ConfigError(f"{module.__name__} has no service {name!r} (it has: {known})")
    return services[name]


def _method_of(service: ServiceDescriptor, name: str, shown: str) -> MethodDescriptor:
    if name not in service.methods_by_name:
        known = ", ".join(sorted(service.methods_by_name)) or "none"
        raise ConfigError(f"unknown synapse {shown!r}: {service.full_name} has {known}")
    return service.methods_by_name[name]


@lru_cache(maxsize=1024)
def _service_by_name(name: str) -> ServiceDescriptor:
    try:
        return descriptor_pool.Default().FindServiceByName(name)
    except KeyError:
        pass
    found = _loaded_services(name) if "." not in name else []
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(sorted(s.full_name for s in found))
        raise ConfigError(f"service {name!r} is ambiguous ({names}): use the full name")
    raise ConfigError(
        f"unknown service {name!r}: write {_SERVICE_EXAMPLE}, and import the subnet's *_pb2 "
        "module first"
    )


def resolve_service(service: ServiceRef) -> ServiceDescriptor:
    """The descriptor of a service named any way :data:`ServiceRef` allows."""
    if isinstance(service, ServiceDescriptor):
        return service
    if isinstance(service, tuple):
        module, name = service
        return _module_service(module, name)
    if isinstance(service, str) and service.strip():
        return _service_by_name(service.strip())
    raise ConfigError(f"cannot name a service with {service!r}: write {_SERVICE_EXAMPLE}")


@lru_cache(maxsize=1024)
def _by_name(name: str) -> MethodSpec:
    dotted = name.lstrip("/").replace("/", ".")
    try:
        return method_spec(descriptor_pool.Default().FindMethodByName(dotted))
    except KeyError:
        pass
    service_name, sep, method_name = dotted.rpartition(".")
    if not sep or not service_name:
        raise ConfigError(
            f"unknown synapse {name!r}: write {_METHOD_EXAMPLE}, and import the subnet's "
            "*_pb2 module first"
        )
    try:
        service = _service_by_name(service_name)
    except ConfigError as exc:
        raise ConfigError(f"unknown synapse {name!r}: {exc.message}") from None
    return method_spec(_method_of(service, method_name, name))


def resolve_method(method: MethodRef) -> MethodSpec:
    """The spec of an RPC named any way :data:`MethodRef` allows (a spec is taken as is)."""
    if isinstance(method, MethodSpec):
        return method
    if isinstance(method, MethodDescriptor):
        return method_spec(method)
    if isinstance(method, tuple):
        module, name = method
        service_name, sep, method_name = name.rpartition(".")
        service = _module_service(module, service_name if sep else None)
        return method_spec(_method_of(service, method_name, name))
    if isinstance(method, str) and method.strip():
        return _by_name(method.strip())
    raise ConfigError(f"cannot name a synapse with {method!r}: write {_METHOD_EXAMPLE}")


def service_methods(service: ServiceDescriptor) -> list[MethodSpec]:
    """Every RPC of ``service``: the miner binds one handler per entry, none written by hand."""
    return [method_spec(m) for m in service.methods]

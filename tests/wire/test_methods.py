"""Naming a subnet's service and RPCs the short way, and what a wrong name is told."""

from __future__ import annotations

import pytest

from subnetkit.core.errors import ConfigError
from subnetkit.protos.chain.v1 import chain_pb2
from subnetkit.subnets.echo import echo_pb2
from subnetkit.wire.methods import resolve_method, resolve_service

ECHO = echo_pb2.DESCRIPTOR.services_by_name["Echo"]


@pytest.mark.parametrize(
    "ref", [(echo_pb2, "Echo"), "Echo", "subnets.echo.v1.Echo", ECHO], ids=repr
)
def test_every_way_to_name_a_service_finds_it(ref: object) -> None:
    assert resolve_service(ref) is ECHO  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ref",
    [
        (echo_pb2, "Echo.Echo"),
        "Echo.Echo",
        "subnets.echo.v1.Echo.Echo",
        "/subnets.echo.v1.Echo/Echo",
        ECHO.methods_by_name["Echo"],
    ],
    ids=repr,
)
def test_every_way_to_name_an_rpc_finds_it(ref: object) -> None:
    spec = resolve_method(ref)  # type: ignore[arg-type]
    assert spec.path == "/subnets.echo.v1.Echo/Echo"
    assert spec.response_cls is echo_pb2.EchoResponse


def test_a_module_with_one_service_takes_the_method_name_alone() -> None:
    assert resolve_method((echo_pb2, "EchoStream")).server_streaming


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ((echo_pb2, "Eco.Echo"), "has no service 'Eco' (it has: Echo)"),
        ((echo_pb2, "Eco"), "unknown synapse 'Eco': subnets.echo.v1.Echo has Echo, EchoStream"),
        ((echo_pb2, "Echo.Ech"), "Echo has Echo, EchoStream"),
        ("Echo.Nope", "subnets.echo.v1.Echo has Echo, EchoStream"),
        ("NoSuchService.Call", "unknown service 'NoSuchService'"),
        ("Call", "write (echo_pb2, 'Echo.Echo')"),
        ("", "cannot name a synapse"),
        ((chain_pb2, "Chain.Nope"), "subnetkit.chain.v1.Chain has"),
    ],
    ids=repr,
)
def test_a_wrong_name_says_what_exists(ref: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_method(ref)  # type: ignore[arg-type]
    assert fragment in caught.value.message


def test_not_a_generated_module_is_named() -> None:
    with pytest.raises(ConfigError, match="pytest is not a generated"):
        resolve_service((pytest, "Echo"))

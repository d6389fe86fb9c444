"""Registering the chain servicer so that a malformed request body gets a typed answer.

With the generated ``add_ChainServicer_to_server`` a body protobuf cannot parse fails inside
grpc's deserializer, before any of our code runs, and the caller sees UNKNOWN with no error
code. Here each method receives the raw bytes and parses them itself: a body that does not
parse, or that holds an integer its field cannot carry (which the parser would truncate), is
INVALID_ARGUMENT with ``x-chain-error: bad_request``, and the server goes on serving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from subnetkit.chain import wire_check
from subnetkit.chain.errors import chain_error
from subnetkit.core.errors import ChainError
from subnetkit.protos.chain.v1 import chain_pb2 as pb

ERROR_KEY = "x-chain-error"
Context = grpc.aio.ServicerContext[Any, Any]
SERVICE = pb.DESCRIPTOR.services_by_name["Chain"]


def parse_request(raw: bytes, cls: type[Message]) -> Message:
    """``cls`` parsed from ``raw``, or a ``bad_request`` ChainError saying what is wrong."""
    wire_check.check(raw, cls.DESCRIPTOR, code="bad_request", unknown_ok=True)
    try:
        return cls.FromString(raw)
    except DecodeError as exc:
        raise chain_error(
            "bad_request", f"the request body is not a {cls.DESCRIPTOR.full_name} ({exc})"
        ) from None


async def _abort_bad(context: Context, exc: ChainError) -> None:
    await context.abort(exc.status, f"{exc.code}: {exc.message}", ((ERROR_KEY, exc.code),))


def _unary(fn: Callable[[Any, Any], Awaitable[Any]], cls: type[Message]) -> Any:
    async def handle(raw: bytes, context: Context) -> Any:
        try:
            request = parse_request(raw, cls)
        except ChainError as exc:
            await _abort_bad(context, exc)
        return await fn(request, context)

    return handle


def _stream(fn: Callable[[Any, Any], AsyncIterator[Any]], cls: type[Message]) -> Any:
    async def handle(raw: bytes, context: Context) -> AsyncIterator[Any]:
        try:
            request = parse_request(raw, cls)
        except ChainError as exc:
            await _abort_bad(context, exc)
        async for item in fn(request, context):
            yield item

    return handle


def add_chain_servicer(servicer: Any, server: grpc.aio.Server) -> None:
    """Register every method of ``subnetkit.chain.v1.Chain`` on ``server`` (raw-bytes requests)."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_cls = getattr(pb, method.input_type.name)
        response_cls = getattr(pb, method.output_type.name)
        fn = getattr(servicer, method.name)
        if method.client_streaming:
            raise TypeError(f"{method.name}: client streaming is not supported here")
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _stream(fn, request_cls), response_serializer=response_cls.SerializeToString
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(fn, request_cls), response_serializer=response_cls.SerializeToString
            )
    generic = grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
    server.add_generic_rpc_handlers((generic,))

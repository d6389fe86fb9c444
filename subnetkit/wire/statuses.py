"""gRPC statuses in the shape every transport reports them.

A call refused over gRPC raises ``grpc.aio.AioRpcError``; the in-process transport and session
streams build the same error, so a client maps every failure to a result in one place, whatever
carried the request.
"""

from __future__ import annotations

import grpc

_CODES = {code.value[0]: code for code in grpc.StatusCode}


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    """A refusal in grpc.aio's public shape, so every transport's failures read the same."""
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, empty, empty, details=details)


def status_of(code: int) -> grpc.StatusCode:
    """The gRPC status whose number is ``code`` (a session answer's); an unknown one is
    UNKNOWN."""
    return _CODES.get(code, grpc.StatusCode.UNKNOWN)


__all__ = ["rpc_error", "status_of"]

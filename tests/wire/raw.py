"""Hand-made requests for wire tests: any body, any metadata, sent with a bare grpc.aio channel.

The point is to build requests a well-behaved MinerClient never would (forged, stale, replayed,
mis-addressed), so every status the miner can return comes from a real bad request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc

from subnetkit.core.keys import Signer
from subnetkit.wire import protocol

ECHO = "/subnets.echo.v1.Echo/Echo"
ECHO_STREAM = "/subnets.echo.v1.Echo/EchoStream"


@dataclass
class RawReply:
    """What came back: the status and details, and on success the body and our trailer keys."""

    code: grpc.StatusCode
    details: str
    body: bytes | None
    trailer: dict[str, str | bytes]


def signed_metadata(
    signer: Signer,
    body: bytes,
    receiver: str,
    *,
    method: str = ECHO,
    nonce: int | None = None,
    claim: str | None = None,
) -> list[tuple[str, str | bytes]]:
    """Metadata signed by ``signer``; ``claim`` puts another caller hotkey in the header."""
    nonce = time.time_ns() if nonce is None else nonce
    caller = claim or signer.ss58
    message = protocol.request_message(
        version=protocol.PROTOCOL_VERSION,
        method=method,
        receiver=receiver,
        body_hash=protocol.sha256(body),
        nonce=nonce,
        caller_crypto=signer.crypto,
        caller=caller,
    )
    return [
        (protocol.MD_VERSION, protocol.PROTOCOL_VERSION),
        (protocol.MD_CALLER, caller),
        (protocol.MD_CALLER_CRYPTO, signer.crypto),
        (protocol.MD_RECEIVER, receiver),
        (protocol.MD_NONCE, str(nonce)),
        (protocol.MD_SIGNATURE, signer.sign(message)),
    ]


async def raw_unary(
    port: int,
    body: bytes,
    metadata: list[tuple[str, str | bytes]] | None,
    *,
    method: str = ECHO,
    timeout: float = 5.0,
) -> RawReply:
    """Send ``body`` with exactly ``metadata`` (nothing added or checked) on a fresh channel."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(method)(body, metadata=metadata, timeout=timeout)
        try:
            out = await call
        except grpc.aio.AioRpcError as exc:
            return RawReply(exc.code(), exc.details() or "", None, {})
        trailer = protocol.metadata_dict(await call.trailing_metadata())
        return RawReply(grpc.StatusCode.OK, "", out, trailer)

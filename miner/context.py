"""What the miner's pipeline needs of a call's context, whichever transport carried the call.

A request reaches the pipeline either through gRPC (``grpc.aio.ServicerContext``) or through the
in-process transport (:class:`subnetkit.wire.inprocess.InProcessContext`). The pipeline and the
handler runner use only the methods below, so they are typed against this protocol and the type
checker holds both contexts to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NoReturn, Protocol

import grpc


class ServingContext(Protocol):
    def invocation_metadata(self) -> Iterable[tuple[str, str | bytes]] | None: ...

    def time_remaining(self) -> float | None: ...

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str | bytes]], /) -> None: ...

    def set_code(self, code: grpc.StatusCode, /) -> None: ...

    def set_details(self, details: str, /) -> None: ...

    async def abort(self, code: grpc.StatusCode, details: str = ..., /) -> NoReturn: ...

    async def write(self, message: bytes, /) -> None: ...

"""One exception root for everything subnetkit raises on purpose.

Every error a user can cause derives from :class:`SubnetkitError`. Each carries a stable
``code`` (a short snake_case name), a CLI exit code and the gRPC status it maps to when it
crosses the wire. The mapping happens at one choke point per boundary (the server pipeline,
the chain servicer, the CLI's ``main``), never scattered through handlers.
"""

from __future__ import annotations

import grpc


class SubnetkitError(Exception):
    """Root of every deliberate subnetkit error.

    ``message`` must say what went wrong *and* what to do about it; it is shown to users
    verbatim (one line on the CLI, the status details on the wire).
    """

    code: str = "error"
    exit_code: int = 1
    status: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ConfigError(SubnetkitError):
    """Bad settings, flags, files or arguments given by the user."""

    code = "config"
    exit_code = 2
    status = grpc.StatusCode.INVALID_ARGUMENT


class WalletError(SubnetkitError):
    """A wallet or key problem: missing keyfile, wrong password, bad URI."""

    code = "key"
    exit_code = 3
    status = grpc.StatusCode.FAILED_PRECONDITION


class WireError(SubnetkitError):
    """A request or response that failed the wire protocol (auth, limits, parsing)."""

    code = "wire"
    exit_code = 4
    status = grpc.StatusCode.UNAUTHENTICATED

    def __init__(
        self, message: str, *, status: grpc.StatusCode | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        if status is not None:
            self.status = status


class ChainError(SubnetkitError):
    """The chain refused an extrinsic or a query; ``code`` names the typed reason."""

    code = "chain"
    exit_code = 5
    status = grpc.StatusCode.FAILED_PRECONDITION


class NotRegisteredError(ChainError):
    """A neuron's hotkey is not registered on the subnet it was started for."""

    code = "not_registered"
    exit_code = 6


class ChainUnavailableError(ChainError):
    """The chain endpoint could not be reached within the deadline."""

    code = "chain_unavailable"
    exit_code = 7
    status = grpc.StatusCode.UNAVAILABLE


__all__ = [
    "ChainError",
    "ChainUnavailableError",
    "ConfigError",
    "NotRegisteredError",
    "SubnetkitError",
    "WalletError",
    "WireError",
]

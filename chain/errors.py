"""Typed chain errors: every refusal has a stable ``code``, a gRPC status and a message saying
what to do. The servicer maps them to the wire at one choke point and the client maps them
back, so a caller on either side catches the same :class:`subnetkit.core.errors.ChainError`
with ``.code``.
"""

from __future__ import annotations

import grpc

from subnetkit.core.errors import ChainError, NotRegisteredError

S = grpc.StatusCode

#: code -> gRPC status. Codes not listed map to FAILED_PRECONDITION.
CODE_STATUS: dict[str, grpc.StatusCode] = {
    "bad_signature": S.UNAUTHENTICATED,
    "bad_extrinsic": S.INVALID_ARGUMENT,
    "bad_address": S.INVALID_ARGUMENT,
    "bad_call": S.INVALID_ARGUMENT,
    "bad_argument": S.INVALID_ARGUMENT,
    "bad_request": S.INVALID_ARGUMENT,
    "extrinsic_too_large": S.INVALID_ARGUMENT,
    "cannot_pay": S.FAILED_PRECONDITION,
    "account_pool_full": S.RESOURCE_EXHAUSTED,
    "future_expired": S.DEADLINE_EXCEEDED,
    "busy": S.RESOURCE_EXHAUSTED,
    "state_corrupt": S.DATA_LOSS,
    "storage_error": S.UNAVAILABLE,
    "storage_full": S.RESOURCE_EXHAUSTED,
    "data_dir_locked": S.FAILED_PRECONDITION,
    "stale_nonce": S.FAILED_PRECONDITION,
    "future_nonce": S.FAILED_PRECONDITION,
    "duplicate_extrinsic": S.ALREADY_EXISTS,
    "pool_full": S.RESOURCE_EXHAUSTED,
    "rate_limited": S.RESOURCE_EXHAUSTED,
    "registrations_full": S.RESOURCE_EXHAUSTED,
    "subnet_not_found": S.NOT_FOUND,
    "neuron_not_found": S.NOT_FOUND,
    "block_not_found": S.NOT_FOUND,
    "block_pruned": S.OUT_OF_RANGE,
    "not_manual": S.FAILED_PRECONDITION,
    "not_sudo": S.PERMISSION_DENIED,
    "not_owner": S.PERMISSION_DENIED,
    "hotkey_owned_by_other": S.PERMISSION_DENIED,
    "shutting_down": S.UNAVAILABLE,
    "unknown_hyperparameter": S.INVALID_ARGUMENT,
    "hyperparameter_out_of_range": S.OUT_OF_RANGE,
    "internal": S.INTERNAL,
}

#: codes whose client-side exception is a more specific subclass.
_CODE_CLASS: dict[str, type[ChainError]] = {"not_registered": NotRegisteredError}


def chain_error(code: str, message: str) -> ChainError:
    """The typed exception for ``code`` (``NotRegisteredError`` for ``not_registered``)."""
    cls = _CODE_CLASS.get(code, ChainError)
    err = cls(message, code=code)
    err.status = CODE_STATUS.get(code, S.FAILED_PRECONDITION)
    return err


class DispatchError(ChainError):
    """An extrinsic that was included but failed; its receipt carries ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = CODE_STATUS.get(code, S.FAILED_PRECONDITION)


def fail(code: str, message: str) -> DispatchError:
    """Shorthand used by call handlers: ``raise fail("insufficient_balance", "...")``."""
    return DispatchError(code, message)

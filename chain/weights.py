"""The weight pipeline shared by validators (building a submission) and the chain (checking it).

One implementation on both sides is the point: a validator that runs :func:`process_weights`
produces exactly what :func:`check_weights` accepts, because the final acceptance test is the
same code. The rules follow subtensor's ``internal_set_weights`` (docs/epoch.md §4) and its
fixed-point helpers (§5.3 there): weights travel and are stored as u16, max-upscaled so the largest
entry of a row is 65535.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import grpc

from subnetkit.core.errors import ChainError

U16_MAX = 65535
_ONE_BITS = 1 << 32  # 1.0 as an I32F32 bit pattern
_HALF_BITS = 1 << 31

# Why each typed refusal maps to the gRPC status it does: malformed vectors are the caller's
# bug (INVALID_ARGUMENT); lacking a permit is a state the caller must change first.
_STATUS_BY_CODE: dict[str, grpc.StatusCode] = {
    "length_mismatch": grpc.StatusCode.INVALID_ARGUMENT,
    "invalid_value": grpc.StatusCode.INVALID_ARGUMENT,
    "invalid_uid": grpc.StatusCode.INVALID_ARGUMENT,
    "duplicate_uid": grpc.StatusCode.INVALID_ARGUMENT,
    "uid_out_of_range": grpc.StatusCode.INVALID_ARGUMENT,
    "too_few_weights": grpc.StatusCode.INVALID_ARGUMENT,
    "weight_above_limit": grpc.StatusCode.INVALID_ARGUMENT,
    "no_validator_permit": grpc.StatusCode.PERMISSION_DENIED,
}


class WeightsError(ChainError):
    """A weight vector the chain refuses; ``code`` names the typed reason.

    Codes: ``length_mismatch``, ``invalid_value``, ``invalid_uid``, ``duplicate_uid``,
    ``uid_out_of_range``,
    ``too_few_weights``, ``weight_above_limit``, ``no_validator_permit``.
    """

    code = "weights"

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.status = _STATUS_BY_CODE.get(code, grpc.StatusCode.INVALID_ARGUMENT)


def _ints_within(values: Sequence[Any], low: int, high: int) -> bool:
    """True when every value is an exact ``int`` in ``low..high``: the common case, checked in
    C (``set(map(type, ...))``, ``min``, ``max``) so a 4096-entry row skips the per-item loop
    that exists to name the first bad item."""
    if not values:
        return True
    return set(map(type, values)) == {int} and low <= min(values) and max(values) <= high


def _round_half_away_bits(bits: int) -> int:
    """Round a non-negative I32F32 bit pattern to an integer, ties away from zero."""
    return (bits + _HALF_BITS) >> 32


def _upscale_u16_ints(values: Sequence[int]) -> list[int]:
    """``vec_u16_max_upscale_to_u16`` in exact I32F32 integer arithmetic."""
    top = max(values)
    if top == 0:
        return [0 for _ in values]
    # _round_half_away_bits written inline: a call per entry is most of the cost of a row
    if top > 32768:
        ratio_bits = (U16_MAX << 32) // top  # I32F32 65535 / top, truncated
        return [min((ratio_bits * e + _HALF_BITS) >> 32, U16_MAX) for e in values]
    return [min(((((e * U16_MAX) << 32) // top) + _HALF_BITS) >> 32, U16_MAX) for e in values]


def _upscale_u16_floats(values: Sequence[float]) -> list[int]:
    """``vec_max_upscale_to_u16`` for fractions (legacy pruning score, float submissions)."""
    top = max(values)
    if top == 0:
        return [min(int(e * U16_MAX), U16_MAX) for e in values]
    if top > 32768:
        ratio = U16_MAX / top
        return [min(math.floor(e * ratio + 0.5), U16_MAX) for e in values]
    return [min(math.floor(e * U16_MAX / top + 0.5), U16_MAX) for e in values]


def max_upscale_u16(values: Sequence[Any] | Any) -> list[int]:
    """Scale a non-negative vector so its largest entry becomes 65535 (docs/epoch.md §5.3).

    Integer input (u16 values as submitted) is handled with the chain's exact fixed-point
    arithmetic, so applying it to an already upscaled row changes nothing. Float input (e.g.
    normalised scores) uses the same formula in float64. Rounding is half away from zero.
    Accepts any sequence or a 1-D tensor/array.
    """
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    if not items:
        return []
    # Exact ints in 0..2^64 pass every check below (math.isfinite is only ever False or
    # overflowing for ints far past that), so they skip the per-item loop.
    if set(map(type, items)) == {int} and min(items) >= 0 and max(items) <= 1 << 64:
        return _upscale_u16_ints(items)
    for value in items:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WeightsError(f"weight {value!r} is not a number", code="invalid_value")
        if not math.isfinite(value) or value < 0:
            raise WeightsError(
                f"weight {value!r} is negative or not finite; weights must be >= 0",
                code="invalid_value",
            )
    if all(isinstance(v, int) for v in items):
        return _upscale_u16_ints(items)
    return _upscale_u16_floats([float(v) for v in items])


def _normalized_max_bits(values_u16: Sequence[int]) -> int:
    """Largest entry of ``values / sum(values)`` as I32F32 bits (``inplace_normalize`` + max)."""
    total = sum(values_u16)
    if total == 0:
        return max(values_u16, default=0) << 32  # normalising a zero vector leaves it as is
    return (max(values_u16) << 32) // total  # flooring v/total is monotonic in v


def _limit_bits(max_weight_limit: int) -> int:
    return (max_weight_limit << 32) // U16_MAX


def _is_self_weight(uids: Sequence[int], caller_uid: int) -> bool:
    return len(uids) == 1 and uids[0] == caller_uid


def check_weights(
    uids: Sequence[int],
    values_u16: Sequence[int],
    *,
    caller_uid: int,
    n: int,
    has_permit: bool,
    is_owner: bool,
    min_allowed_weights: int,
    max_weight_limit: int,
) -> None:
    """Refuse a weight submission the way the chain does, or return None if it is acceptable.

    The checks and their order follow subtensor's ``internal_set_weights``; version-key, rate
    limit and registration checks are the caller's (they need chain state, not the vector).
    A single weight on oneself is always allowed (no permit, count or limit needed); the subnet
    owner needs no permit.

    Raises:
        WeightsError: with ``code`` one of ``length_mismatch``, ``invalid_value``,
            ``duplicate_uid``, ``uid_out_of_range``, ``no_validator_permit``,
            ``too_few_weights``, ``weight_above_limit``.
    """
    if len(uids) != len(values_u16):
        raise WeightsError(
            f"{len(uids)} uids but {len(values_u16)} weights; send one weight per uid",
            code="length_mismatch",
        )
    # Each loop below runs only when its C-level check finds something, to name the first
    # offending item (the loops are the definition; the checks are exact shortcuts).
    if not _ints_within(values_u16, 0, U16_MAX):
        for value in values_u16:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U16_MAX:
                raise WeightsError(
                    f"weight {value!r} is not a u16 integer in 0..65535", code="invalid_value"
                )
    if len(set(uids)) != len(uids):
        seen: set[int] = set()
        for uid in uids:
            if uid in seen:
                raise WeightsError(f"uid {uid} appears more than once", code="duplicate_uid")
            seen.add(uid)
    if not _ints_within(uids, 0, n - 1):
        for uid in uids:
            if isinstance(uid, bool) or not isinstance(uid, int) or not 0 <= uid < n:
                raise WeightsError(
                    f"uid {uid!r} is not in the subnet (valid uids are 0..{n - 1})",
                    code="uid_out_of_range",
                )
    self_weight = _is_self_weight(uids, caller_uid)
    if not self_weight and not has_permit and not is_owner:
        raise WeightsError(
            f"uid {caller_uid} has no validator permit; only a single self-weight is allowed "
            "until it earns one (stake into the top max_allowed_validators)",
            code="no_validator_permit",
        )
    required = min(min_allowed_weights, n)
    if not self_weight and len(uids) < required:
        raise WeightsError(
            f"{len(uids)} weights given but this subnet requires at least {required}",
            code="too_few_weights",
        )
    if self_weight or max_weight_limit >= U16_MAX:
        return
    if _normalized_max_bits(values_u16) > _limit_bits(max_weight_limit):
        raise WeightsError(
            f"the largest normalised weight exceeds max_weight_limit "
            f"{max_weight_limit}/65535 = {max_weight_limit / U16_MAX:.6f}; spread weight over "
            "more uids",
            code="weight_above_limit",
        )


def _cap_fractions(fractions: list[float], limit: float) -> list[float]:
    """Water-fill: cap the largest fractions at c and renormalise so none exceeds ``limit``.

    Ordering is preserved (a capped entry is never below an uncapped one), which is the
    smallest change that satisfies the limit.
    """
    total = sum(fractions)
    fractions = [f / total for f in fractions]
    if max(fractions) <= limit:
        return fractions
    if len(fractions) * limit <= 1.0:
        return [1.0 / len(fractions)] * len(fractions)
    order = sorted(range(len(fractions)), key=lambda i: -fractions[i])
    rest = sum(fractions)
    for capped in range(len(order)):
        rest -= fractions[order[capped]]
        denom = 1.0 - (capped + 1) * limit
        if denom <= 0:
            break
        cap = limit * rest / denom
        nxt = fractions[order[capped + 1]] if capped + 1 < len(order) else 0.0
        if cap >= nxt:
            out = [min(f, cap) for f in fractions]
            total = sum(out)
            return [f / total for f in out]
    return [1.0 / len(fractions)] * len(fractions)


def _limit_fractions(fractions: list[float], max_weight_limit: int) -> list[float]:
    """Cap ``fractions`` so the u16 submission passes the chain's ``max_weight_limit`` check.

    Scores too small to survive u16 rounding do not count as weighted uids; they are dropped
    and the cap recomputed (at most a few rounds) until every kept score is visible in u16.
    """
    limit = max_weight_limit / U16_MAX
    for _ in range(8):
        visible = sum(1 for f in fractions if f > 0)
        if visible * limit < 1.0:
            raise WeightsError(
                f"only {visible} weights survive u16 rounding but max_weight_limit allows "
                f"{limit:.6f} per uid; give clearly nonzero weight to at least "
                f"{math.ceil(1.0 / limit) if limit > 0 else visible + 1} uids",
                code="weight_above_limit",
            )
        # A small margin absorbs u16 rounding; the exact check in process_weights decides.
        capped = _cap_fractions(fractions, limit * (1.0 - 2e-4))
        upscaled = max_upscale_u16(capped)
        lost = [f > 0 and u == 0 for f, u in zip(capped, upscaled, strict=True)]
        if not any(lost):
            return capped
        fractions = [0.0 if gone else f for f, gone in zip(capped, lost, strict=True)]
    return fractions


def _uid_as_int(uid: Any, position: int) -> int:
    """An integer uid of any library (int, numpy or torch integer scalar) as a plain int.

    ``operator.index`` is the integer protocol: it refuses floats (``int(1.7)`` would quietly
    give uid 1) and strings; bools are refused too, ``True`` is not a uid.
    """
    if not isinstance(uid, bool):
        try:
            return operator.index(uid)
        except TypeError:
            pass
    raise WeightsError(
        f"uids[{position}] is {uid!r} ({type(uid).__name__}); uids must be integers",
        code="invalid_uid",
    )


def _weight_as_float(weight: Any, position: int) -> float:
    """A real-number score (int, float, numpy or torch scalar) as a float; no strings, bools."""
    if isinstance(weight, numbers.Real) and not isinstance(weight, bool):
        return float(weight)
    if not isinstance(weight, bool | str | bytes) and hasattr(weight, "__float__"):
        try:
            return float(weight)  # a one-element torch tensor, say
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: a multi-element tensor
            pass
    raise WeightsError(
        f"weights[{position}] is {weight!r} ({type(weight).__name__}); weights must be numbers",
        code="invalid_value",
    )


def process_weights(
    uids: Sequence[int],
    weights: Sequence[float],
    n: int,
    *,
    min_allowed_weights: int,
    max_weight_limit: int,
) -> tuple[list[int], list[int]]:
    """Turn a validator's raw scores into a u16 submission the chain will accept.

    Steps: validate, drop zero scores, normalise, cap at ``max_weight_limit`` (water-filling),
    pad with explicit zero entries up to ``min(min_allowed_weights, n)`` (the chain counts
    entries, zero entries carry no weight), max-upscale to u16, then run the chain's own
    :func:`check_weights` on the result so a refusal surfaces here, not on chain. If every score
    is zero the result is uniform over all ``n`` uids. Returns ``(uids, values)`` sorted by uid.

    Raises:
        WeightsError: malformed input (``invalid_uid`` for a uid that is not an integer,
            ``invalid_value`` for a weight that is not a finite number >= 0), or a limit
            that cannot be met with the nonzero scores given (``weight_above_limit``).
    """
    if len(uids) != len(weights):
        raise WeightsError(
            f"{len(uids)} uids but {len(weights)} weights; give one weight per uid",
            code="length_mismatch",
        )
    if n <= 0:
        raise WeightsError("the subnet has no uids to weight", code="uid_out_of_range")
    uid_list = [_uid_as_int(u, k) for k, u in enumerate(uids)]
    for uid in uid_list:
        if not 0 <= uid < n:
            raise WeightsError(
                f"uid {uid} is not in the subnet (valid uids are 0..{n - 1})",
                code="uid_out_of_range",
            )
    if len(set(uid_list)) != len(uid_list):
        raise WeightsError("a uid appears more than once in the weights", code="duplicate_uid")
    values = [_weight_as_float(w, k) for k, w in enumerate(weights)]
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise WeightsError(
                f"weight {value!r} is negative or not finite; weights must be >= 0",
                code="invalid_value",
            )
    nonzero = {u: w for u, w in zip(uid_list, values, strict=True) if w > 0}
    if not nonzero:
        nonzero = {u: 1.0 for u in range(n)}
    kept = sorted(nonzero)
    total = sum(nonzero.values())
    fractions = [nonzero[u] / total for u in kept]
    if max_weight_limit < U16_MAX:
        fractions = _limit_fractions(fractions, max_weight_limit)
    out_uids = list(kept)
    required = min(min_allowed_weights, n)
    if len(out_uids) < required:
        present = set(out_uids)
        padding = [u for u in range(n) if u not in present][: required - len(out_uids)]
        out_uids += padding
        fractions += [0.0] * len(padding)
    pairs = sorted(zip(out_uids, max_upscale_u16(fractions), strict=True))
    result_uids = [u for u, _ in pairs]
    result_values = [v for _, v in pairs]
    check_weights(
        result_uids,
        result_values,
        caller_uid=-1,
        n=n,
        has_permit=True,
        is_owner=False,
        min_allowed_weights=min_allowed_weights,
        max_weight_limit=max_weight_limit,
    )
    return result_uids, result_values


__all__ = [
    "U16_MAX",
    "WeightsError",
    "check_weights",
    "max_upscale_u16",
    "process_weights",
]

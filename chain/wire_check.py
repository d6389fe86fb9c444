"""Refuse protobuf encodings that the parser would silently reinterpret.

protobuf's parsers accept a varint of up to ten bytes and keep its low 64 bits (or low 32 bits
for a 32-bit field), so ``amount = 2**64 + 1`` arrives as ``amount = 1``: the chain would
execute something other than what the signer's bytes say. This walks the wire format with the
message's descriptor and refuses, before anything is parsed, any integer that does not fit its
field's type, any truncated field and, where asked, any field number the schema does not know
(an extrinsic's call is executed exactly as signed, so an ignored field is refused rather than
stored forever). Encodings are described in the protobuf docs, "Encoding" (docs/ links it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from subnetkit.chain.errors import chain_error
from subnetkit.core.errors import ChainError

FD = FieldDescriptor
_2_64 = 1 << 64
#: nesting deeper than this is refused (our messages nest at most 4 levels)
MAX_DEPTH = 16

#: varint field types -> a predicate on the raw (unsigned) varint value
_VARINT_OK: dict[int, Callable[[int], bool]] = {
    FD.TYPE_UINT64: lambda v: v < _2_64,
    FD.TYPE_INT64: lambda v: v < _2_64,
    FD.TYPE_SINT64: lambda v: v < _2_64,
    FD.TYPE_UINT32: lambda v: v < 1 << 32,
    FD.TYPE_SINT32: lambda v: v < 1 << 32,
    # int32 and enums: non-negative below 2**31, or a negative sign-extended to 64 bits
    FD.TYPE_INT32: lambda v: v < 1 << 31 or _2_64 - (1 << 31) <= v < _2_64,
    FD.TYPE_ENUM: lambda v: v < 1 << 31 or _2_64 - (1 << 31) <= v < _2_64,
    FD.TYPE_BOOL: lambda v: v <= 1,
}
_FIXED = {FD.TYPE_FIXED64: 1, FD.TYPE_SFIXED64: 1, FD.TYPE_DOUBLE: 1}
_FIXED.update({FD.TYPE_FIXED32: 5, FD.TYPE_SFIXED32: 5, FD.TYPE_FLOAT: 5})


def _bad(code: str, where: str, what: str) -> ChainError:
    return chain_error(code, f"{where}: {what}; encode it with a protobuf library from the schema")


def _varint(data: bytes, pos: int, code: str, where: str) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            raise _bad(code, where, "truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise _bad(code, where, "varint longer than 10 bytes")


def check(
    data: bytes,
    desc: Any,  # a message Descriptor (the pure-Python or the upb one)
    *,
    code: str,
    unknown_ok: bool,
    where: str = "",
    depth: int = 0,
) -> None:
    """Raise ChainError(``code``) unless ``data`` is an exact encoding of a ``desc`` message."""
    where = where or desc.name
    if depth > MAX_DEPTH:
        raise _bad(code, where, f"nested deeper than {MAX_DEPTH} messages")
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos, code, where)
        number, wire = key >> 3, key & 7
        field = desc.fields_by_number.get(number)
        at = f"{where}.{field.name if field else number}"
        if field is None and not unknown_ok:
            raise _bad(code, at, f"field {number} is not in {desc.full_name}")
        if wire == 0:
            value, pos = _varint(data, pos, code, at)
            ok = _VARINT_OK.get(field.type) if field is not None else None
            if field is not None and (ok is None or not ok(value)):
                raise _bad(code, at, f"value {value} does not fit a {_type_name(field)}")
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if field is not None and _FIXED.get(field.type) != wire:
                raise _bad(code, at, f"wire type {wire} does not match a {_type_name(field)}")
        elif wire == 2:
            length, pos = _varint(data, pos, code, at)
            stop = pos + length
            if stop > end:
                raise _bad(code, at, "length runs past the end of the message")
            if field is not None:
                _check_delimited(data[pos:stop], field, code, unknown_ok, at, depth)
            pos = stop
        else:
            raise _bad(code, at, f"wire type {wire} is not valid here")
        if pos > end:
            raise _bad(code, at, "truncated field")


def _check_delimited(
    payload: bytes, field: FieldDescriptor, code: str, unknown_ok: bool, at: str, depth: int
) -> None:
    if field.type == FD.TYPE_MESSAGE:
        check(
            payload, field.message_type, code=code, unknown_ok=unknown_ok, where=at, depth=depth + 1
        )
    elif field.type in _VARINT_OK:  # a packed repeated integer field
        ok, pos = _VARINT_OK[field.type], 0
        while pos < len(payload):
            value, pos = _varint(payload, pos, code, at)
            if not ok(value):
                raise _bad(code, at, f"value {value} does not fit a {_type_name(field)}")
    elif field.type not in (FD.TYPE_STRING, FD.TYPE_BYTES) and field.type not in _FIXED:
        raise _bad(code, at, f"length-delimited data for a {_type_name(field)}")


def _type_name(field: FieldDescriptor) -> str:
    names = {v: k for k, v in vars(FD).items() if k.startswith("TYPE_")}
    return names.get(field.type, "field").removeprefix("TYPE_").lower()

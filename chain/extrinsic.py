"""Extrinsic encoding, signing and verification, shared by the client and the chain.

What is signed is a domain-separated payload::

    b"subnetkit/extrinsic/v1\\0" || genesis_hash (32) || u16 len || signer ss58
    || u8 crypto id || u64 nonce (big-endian) || call bytes

The call travels as the exact serialised ``Call`` bytes that were signed, so the chain never
re-serialises anything before checking a signature (protobuf serialisation is not canonical
across implementations). The genesis hash stops an extrinsic signed for one chain from being
replayed on another; the per-account nonce stops replay on the same chain. The extrinsic hash is
BLAKE2b-256 of the payload and the signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from subnetkit.chain import wire_check
from subnetkit.chain.errors import chain_error
from subnetkit.core.keys import Signer, crypto_id, is_valid_ss58, verify
from subnetkit.protos.chain.v1 import chain_pb2 as pb

DOMAIN = b"subnetkit/extrinsic/v1\x00"


def signing_payload(
    genesis_hash: bytes, signer: str, crypto: str, nonce: int, call: bytes
) -> bytes:
    who = signer.encode()
    return b"".join(
        (
            DOMAIN,
            genesis_hash,
            len(who).to_bytes(2, "big"),
            who,
            crypto_id(crypto).to_bytes(1, "big"),
            nonce.to_bytes(8, "big"),
            call,
        )
    )


def extrinsic_hash(payload: bytes, signature: bytes) -> bytes:
    return hashlib.blake2b(payload + signature, digest_size=32).digest()


def build(signer: Signer, nonce: int, call: pb.Call, genesis_hash: bytes) -> pb.Extrinsic:
    """Serialise ``call``, sign it for this chain and nonce, and wrap it as an Extrinsic."""
    call_bytes = call.SerializeToString(deterministic=True)
    payload = signing_payload(genesis_hash, signer.ss58, signer.crypto, nonce, call_bytes)
    return pb.Extrinsic(
        signer=signer.ss58,
        crypto=signer.crypto,
        nonce=nonce,
        call=call_bytes,
        signature=signer.sign(payload),
    )


@dataclass(frozen=True, slots=True)
class Checked:
    """An extrinsic whose signature verified: what the block executor consumes."""

    hash: bytes
    signer: str
    nonce: int
    call: pb.Call
    raw: bytes  # the serialised Extrinsic, as stored in the block


def check(ext: pb.Extrinsic, genesis_hash: bytes, *, verify_signature: bool = True) -> Checked:
    """Parse and verify ``ext``; raise a typed ChainError saying what is wrong."""
    crypto = ext.crypto or "sr25519"
    if crypto not in ("sr25519", "ed25519"):
        raise chain_error("bad_extrinsic", f"unknown crypto {crypto!r}: use sr25519 or ed25519")
    if not is_valid_ss58(ext.signer):
        raise chain_error("bad_address", f"signer {ext.signer!r} is not a valid SS58 address")
    # Before the signature (cheap first): bytes the parser would reinterpret (a 65-bit amount
    # read as its low 64 bits) are refused, so what executes is exactly what was signed.
    wire_check.check(ext.call, pb.Call.DESCRIPTOR, code="bad_call", unknown_ok=False)
    payload = signing_payload(genesis_hash, ext.signer, crypto, ext.nonce, ext.call)
    if verify_signature and not verify(ext.signer, payload, ext.signature, crypto):
        raise chain_error(
            "bad_signature",
            "signature does not verify for this signer, nonce and call on this chain "
            "(sign with the signer's key over chain.extrinsic.signing_payload and this genesis)",
        )
    call = pb.Call()
    try:
        call.ParseFromString(ext.call)
    except DecodeError:
        raise chain_error(
            "bad_call", "call bytes are not a serialised subnetkit.chain.v1.Call"
        ) from None
    if call.WhichOneof("kind") is None:
        raise chain_error("bad_call", "call is empty: set one of the Call variants")
    return Checked(
        hash=extrinsic_hash(payload, ext.signature),
        signer=ext.signer,
        nonce=ext.nonce,
        call=call,
        raw=ext.SerializeToString(),
    )

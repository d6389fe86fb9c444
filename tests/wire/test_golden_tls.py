"""Golden vectors for TLS keyed by hotkeys, session mode and canonical identity
(docs/protocol.md, "TLS", "Session mode", "Identity"). A change here is wire-incompatible."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from subnetkit.core import ss58
from subnetkit.core.keys import Signer, verify
from subnetkit.wire import protocol, tls

HERE = Path(__file__).parent
VECTORS: dict[str, Any] = json.loads((HERE / "golden_v1.json").read_text())
TLS = VECTORS["tls"]
DOC = (HERE.parents[1] / "docs" / "protocol.md").read_text()


def test_spki_comes_from_the_fixed_key() -> None:
    key = ec.derive_private_key(int(TLS["ecdsa_p256_private_scalar"], 16), ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki.hex() == TLS["spki_der"]
    assert hashlib.sha256(spki).hexdigest() == TLS["spki_sha256"]


@pytest.mark.parametrize("crypto", ["sr25519", "ed25519"])
def test_binding_layout_and_signature(crypto: str) -> None:
    v = TLS[crypto]
    bob = Signer.from_uri("//Bob", crypto)
    assert bob.ss58 == v["hotkey"] and tls.server_name(bob.ss58) == v["server_name"]
    message = protocol.tls_binding_message(
        hotkey=v["hotkey"], crypto=crypto, spki_hash=bytes.fromhex(TLS["spki_sha256"])
    )
    assert message.hex() == v["signed_message"]
    assert hashlib.sha256(message).hexdigest() == v["signed_message_sha256"]
    signature = bytes.fromhex(v["signature"])
    assert verify(v["hotkey"], message, signature, crypto)
    assert not verify(v["hotkey"], message + b"\0", signature, crypto)
    if crypto == "ed25519":
        assert bob.sign(message) == signature
    prefix = (protocol.lp(crypto) + protocol.lp(bob.ss58)).hex()
    assert v["extension_value"] == prefix + "<signature>"
    assert v["signed_message_sha256"] in DOC, f"docs/protocol.md lacks the {crypto} binding"


def test_session_request_metadata() -> None:
    bob = Signer.from_uri("//Bob")
    md = protocol.session_request(receiver=bob.ss58, nonce=VECTORS["nonce"])
    assert [list(pair) for pair in md] == TLS["session_request"]
    assert "sk-session" in DOC


def test_non_canonical_caller() -> None:
    v = TLS["non_canonical_caller"]
    assert ss58.canonical_ss58(v["polkadot_prefix_0"]) == v["canonical"]
    assert not ss58.is_canonical(v["polkadot_prefix_0"]) and ss58.is_canonical(v["canonical"])
    assert v["polkadot_prefix_0"] in DOC


def test_session_stream_messages() -> None:
    """A session stream's opening metadata, one request message and its answer: the ed25519
    request and response vectors carried on the stream, the answer signed exactly as a call's
    response is (docs/protocol.md, "Session streams")."""
    from subnetkit.protos.session.v1.session_pb2 import (
        SessionRequest,
        SessionRequests,
        SessionResponse,
        SessionResponses,
    )

    v, ed = TLS["session_stream"], VECTORS["ed25519"]
    bob = Signer.from_uri("//Bob")
    assert [list(p) for p in protocol.session_open(receiver=bob.ss58)] == v["open_metadata"]
    nonce, method = VECTORS["nonce"], ed["request"]["method"]
    body = bytes.fromhex(ed["request"]["body"])
    sent = SessionRequest(nonce=nonce, method=method, body=body, timeout_ms=v["timeout_ms"])
    assert SessionRequests(requests=[sent]).SerializeToString().hex() == v["requests"]
    answer = SessionResponses.FromString(bytes.fromhex(v["responses"])).responses[0]
    assert answer.nonce == nonce and answer.code == 0
    assert answer.body.hex() == ed["response"]["body"]
    message = protocol.response_message(
        version=protocol.PROTOCOL_VERSION,
        method=method,
        caller=ed["caller"],
        request_hash=protocol.sha256(body),
        nonce=nonce,
        response_hash=protocol.sha256(answer.body),
        miner_crypto="ed25519",
        miner=ed["miner"],
    )
    assert message.hex() == ed["response"]["signed_message"]
    assert verify(ed["miner"], message, answer.signature, "ed25519")
    assert Signer.from_uri("//Bob", "ed25519").sign(message) == answer.signature
    again = SessionResponse(nonce=nonce, body=answer.body, signature=answer.signature)
    assert SessionResponses(responses=[again]).SerializeToString().hex() == v["responses"]
    assert v["requests"] in DOC.replace("\n", "") and v["responses"] in DOC.replace("\n", "")

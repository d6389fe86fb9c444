"""Golden vectors pin the v1 signed-message layouts (docs/protocol.md, "Golden vectors").

The vectors were produced once from fixed keys (//Alice caller, //Bob miner), a fixed nonce and
fixed bodies. If a layout changes, these fail: that is a wire-incompatible change and needs a new
protocol version. sr25519 signatures are randomized, so for sr25519 the stored signature is
verified; ed25519 is deterministic, so its signature must be reproduced byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from subnetkit.core.keys import Signer, verify
from subnetkit.wire import protocol

HERE = Path(__file__).parent
VECTORS: dict[str, Any] = json.loads((HERE / "golden_v1.json").read_text())
DOC = (HERE.parents[1] / "docs" / "protocol.md").read_text()
NONCE = VECTORS["nonce"]


def messages(crypto: str) -> dict[str, bytes]:
    v = VECTORS[crypto]
    req, resp, stream = v["request"], v["response"], v["stream"]
    request_hash = protocol.sha256(bytes.fromhex(req["body"]))
    chain = protocol.ChunkChain(protocol.sha256(bytes.fromhex(stream["body"])))
    for chunk in stream["chunks"]:
        chain.add(bytes.fromhex(chunk))
    assert chain.digest.hex() == stream["chain_hash"]
    return {
        "request": protocol.request_message(
            version="1",
            method=req["method"],
            receiver=v["miner"],
            body_hash=request_hash,
            nonce=NONCE,
            caller_crypto=crypto,
            caller=v["caller"],
        ),
        "response": protocol.response_message(
            version="1",
            method=req["method"],
            caller=v["caller"],
            request_hash=request_hash,
            nonce=NONCE,
            response_hash=protocol.sha256(bytes.fromhex(resp["body"])),
            miner_crypto=crypto,
            miner=v["miner"],
        ),
        "stream": protocol.stream_message(
            version="1",
            method=stream["method"],
            caller=v["caller"],
            request_hash=protocol.sha256(bytes.fromhex(stream["body"])),
            nonce=NONCE,
            chunks=len(stream["chunks"]),
            chain_hash=chain.digest,
            miner_crypto=crypto,
            miner=v["miner"],
        ),
    }


@pytest.mark.parametrize("crypto", ["sr25519", "ed25519"])
def test_keys_come_from_the_uris(crypto: str) -> None:
    v = VECTORS[crypto]
    assert Signer.from_uri(v["caller_uri"], crypto).ss58 == v["caller"]
    assert Signer.from_uri(v["miner_uri"], crypto).public_key.hex() == v["miner_public_key"]


@pytest.mark.parametrize("crypto", ["sr25519", "ed25519"])
@pytest.mark.parametrize("kind", ["request", "response", "stream"])
def test_layout_and_signature(crypto: str, kind: str) -> None:
    v = VECTORS[crypto]
    message = messages(crypto)[kind]
    assert message.hex() == v[kind]["signed_message"]
    assert protocol.sha256(message).hex() == v[kind]["signed_message_sha256"]
    signer_hotkey = v["caller"] if kind == "request" else v["miner"]
    signature = bytes.fromhex(v[kind]["signature"])
    assert verify(signer_hotkey, message, signature, crypto)
    assert not verify(signer_hotkey, message + b"\x00", signature, crypto)
    if crypto == "ed25519":
        uri = v["caller_uri"] if kind == "request" else v["miner_uri"]
        assert Signer.from_uri(uri, crypto).sign(message) == signature


@pytest.mark.parametrize("crypto", ["sr25519", "ed25519"])
def test_docs_show_the_same_vectors(crypto: str) -> None:
    v = VECTORS[crypto]
    for kind in ("request", "response", "stream"):
        assert v[kind]["signed_message_sha256"] in DOC, f"docs/protocol.md lacks {crypto} {kind}"
    assert v["request"]["signed_message"] in DOC.replace("\n", "").replace(" ", "")

"""Step 10 of the pipeline: what a miner signs for each answer, and the trailer that carries it.

A response is signed over the request it answers (method, caller, nonce, the request body's
hash) and what was sent (the response body's hash, or a stream's chunk count and chained hash),
so a client can tell a forged, altered or replayed answer from a real one. The layouts are
:mod:`subnetkit.wire.protocol`'s (docs/protocol.md, "Response" and "Streams"); a call carries
the signature in its trailing metadata, a session stream's answer in the answer itself.
"""

from __future__ import annotations

from subnetkit.core.keys import Signer
from subnetkit.miner.base import BoundSynapse
from subnetkit.wire import protocol


class ResponseSigner:
    """Signs a miner's answers with its hotkey."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def unary_message(
        self, bound: BoundSynapse, auth: protocol.RequestAuth, body_hash: bytes, out: bytes
    ) -> bytes:
        """What the miner signs for a unary response ``out`` (a call's or a session answer's)."""
        return protocol.response_message(
            version=auth.version,
            method=bound.spec.path,
            caller=auth.caller,
            request_hash=body_hash,
            nonce=auth.nonce,
            response_hash=protocol.sha256(out),
            miner_crypto=self.signer.crypto,
            miner=self.signer.ss58,
        )

    def sign_unary(
        self, bound: BoundSynapse, auth: protocol.RequestAuth, body_hash: bytes, out: bytes
    ) -> bytes:
        """The signature a session stream's answer carries."""
        return self.signer.sign(self.unary_message(bound, auth, body_hash, out))

    def trailer(
        self,
        bound: BoundSynapse,
        auth: protocol.RequestAuth,
        body_hash: bytes,
        out: bytes | None,
        chain: protocol.ChunkChain | None,
    ) -> tuple[tuple[str, str | bytes], ...]:
        """A call's signed trailer: over a unary body (``out``) or a stream's ``chain``."""
        if chain is None:
            message = self.unary_message(bound, auth, body_hash, out or b"")
            return protocol.response_trailer(self.signer, message)
        message = protocol.stream_message(
            version=auth.version,
            method=bound.spec.path,
            caller=auth.caller,
            request_hash=body_hash,
            nonce=auth.nonce,
            chunks=chain.count,
            chain_hash=chain.digest,
            miner_crypto=self.signer.crypto,
            miner=self.signer.ss58,
        )
        return protocol.response_trailer(self.signer, message, chunks=chain.count)

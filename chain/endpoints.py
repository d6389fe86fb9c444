"""What a neuron's endpoint on chain says, and announcing it only when the chain holds another.

A ``ServeAxon`` carries an ip, a port, a certificate fingerprint and a ``protocol`` number
(0..255, Bittensor always sends 4). subnetkit uses that number to say what kind of endpoint it
is, so a validator knows whom to query and how, and nothing else has to be asked over the wire
(docs/protocol.md, "TLS keyed by hotkeys"):

* :data:`SIGNED` (4, the default): a miner's synapses, every request signed (over TLS when a
  fingerprint is set);
* :data:`MUTUAL_TLS` (5): a miner's synapses over TLS that requires a client certificate bound
  to a hotkey it trusts; such a miner also takes session-mode requests;
* :data:`IDENTITY` (6): no synapses, only a validator's certificate, served so miners that
  require client TLS can fetch it and trust it. Never queried as a miner.

Both neurons announce through :func:`announce` at start: it submits nothing when the chain
already holds exactly this endpoint, so a restart does not trip ``serving_rate_limit``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from subnetkit.chain.client import ChainClient
from subnetkit.chain.metagraph import AxonInfo
from subnetkit.chain.sync import MetagraphSync
from subnetkit.core.keys import Signer

log = logging.getLogger(__name__)

#: a miner's synapses, signed requests (Bittensor's ``protocol`` value)
SIGNED = 4
#: a miner's synapses behind mutual TLS (client certificates required; session mode offered)
MUTUAL_TLS = 5
#: a validator's certificate endpoint: no synapses
IDENTITY = 6


def serves_synapses(axon: AxonInfo) -> bool:
    """Whether ``axon`` is an endpoint to query (serving, and not a validator's identity)."""
    return axon.is_serving and axon.protocol != IDENTITY


def requires_client_tls(axon: AxonInfo) -> bool:
    """Whether ``axon`` is a TLS miner that refuses callers without a trusted certificate."""
    return axon.protocol == MUTUAL_TLS and bool(axon.certificate_fingerprint)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one neuron announces with ``ServeAxon``."""

    ip: str
    port: int
    fingerprint: bytes = b""
    protocol: int = SIGNED

    def held_by(self, axon: AxonInfo) -> bool:
        """Whether the chain's ``axon`` is exactly this endpoint."""
        return (axon.ip, axon.port, axon.certificate_fingerprint, axon.protocol) == (
            self.ip,
            self.port,
            self.fingerprint,
            self.protocol,
        )


async def serve(chain: ChainClient, signer: Signer, netuid: int, endpoint: Endpoint) -> None:
    """Submit ``ServeAxon`` for ``endpoint`` (rate limited by the chain: see :func:`announce`)."""
    await chain.serve_axon(
        signer,
        netuid,
        endpoint.ip,
        endpoint.port,
        protocol=endpoint.protocol,
        certificate_fingerprint=endpoint.fingerprint,
    )


async def announce(
    chain: ChainClient, signer: Signer, sync: MetagraphSync, uid: int, endpoint: Endpoint
) -> bool:
    """Put ``endpoint`` on chain for ``uid`` unless the metagraph shows it already; then
    refresh ``sync`` so it does. True if an extrinsic was submitted."""
    if endpoint.held_by(sync.metagraph.axons[uid]):
        log.info("endpoint %s:%d already on chain for uid %d", endpoint.ip, endpoint.port, uid)
        return False
    await serve(chain, signer, sync.netuid, endpoint)
    log.info(
        "uid %d (%s) serving on chain at %s:%d%s",
        uid,
        signer.ss58,
        endpoint.ip,
        endpoint.port,
        f" with TLS certificate {endpoint.fingerprint.hex()[:16]}..."
        if endpoint.fingerprint
        else "",
    )
    await sync.refresh()
    return True


__all__ = [
    "IDENTITY",
    "MUTUAL_TLS",
    "SIGNED",
    "Endpoint",
    "announce",
    "requires_client_tls",
    "serve",
    "serves_synapses",
]

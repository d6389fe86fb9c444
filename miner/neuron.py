"""``MinerNeuron``: a :class:`~miner.Miner` run as a neuron of a live subnet.

Start-up, in order: connect to the chain, check that the hotkey is registered on the subnet
(else :class:`~subnetkit.core.errors.NotRegisteredError` with the command that registers it), load
the metagraph and follow blocks (:class:`chain.sync.MetagraphSync`), start the signed gRPC
server, then publish its endpoint on chain (skipped when the chain already has it, so a restart
does not trip ``serving_rate_limit``).

Default request policy, from the metagraph (both are overridable methods, and a ``Miner``
subclass that defines its own ``blacklist``/``priority`` keeps them):

* blacklist: the caller must be registered on the subnet, hold a validator permit, and have at
  least ``miner.min_stake`` stake;
* priority: the caller's stake, so the validators with the most at stake are served first.

A miner may define ``prepare()`` (sync or async): it runs after the registration check and
before the server starts, so a model loads before the first request, not inside it.

Lookups go through a hotkey -> uid map rebuilt on each metagraph refresh: the template's
``hotkeys.index(caller)`` scan per request is a DoS lever (one O(n) scan per call).

With ``axon.tls`` the miner serves TLS with a certificate bound to its hotkey, kept in its state
directory (so the fingerprint on chain survives restarts), and announces its fingerprint. With
``axon.require_client_tls`` as well, it requires mutual TLS: only the certificates that the
validators its policy admits announce on chain get through the handshake (kept current on every
metagraph refresh by :class:`~subnetkit.miner.validator_certs.ValidatorCertificates`), and those
validators may use session mode. The endpoint on chain then says so (``chain.endpoints``).

The endpoint on chain is watched: when it changes to an address (or certificate) this miner did
not announce, another process with the same hotkey has taken it and validators now query that
one. The miner logs an error and, by ``miner.on_endpoint_taken``, stops (the default: two miners
re-announcing in turn would both serve half the time) or announces its own endpoint again.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from subnetkit.chain import endpoints
from subnetkit.chain.client import ChainClient
from subnetkit.chain.metagraph import Metagraph, MetagraphDiff
from subnetkit.chain.sync import MetagraphSync
from subnetkit.core.neuron import NeuronBase, check_axon, register_command
from subnetkit.core.settings import MinerSettings, NeuronSettings
from subnetkit.miner.base import Miner, bind_synapses
from subnetkit.miner.limits import Limits, SynapseCaps, check_synapse_caps
from subnetkit.miner.server import MinerServer
from subnetkit.miner.sessions import TrustedPeers
from subnetkit.miner.validator_certs import Announced, ValidatorCertificates
from subnetkit.wire import tls

log = logging.getLogger(__name__)


def limits_from_settings(miner_cfg: MinerSettings) -> Limits:
    """The server :class:`Limits` the ``[miner]`` settings ask for (the rest keep Limits'
    defaults)."""
    return Limits(
        max_concurrency=miner_cfg.max_concurrency,
        max_queue=miner_cfg.max_queue,
        max_concurrent_rpcs=miner_cfg.max_concurrent_rpcs,
        synapse_caps={
            name: SynapseCaps(
                max_deadline_s=caps.max_deadline_s,
                max_stream_s=caps.max_stream_s,
                max_stream_chunks=caps.max_stream_chunks,
            )
            for name, caps in miner_cfg.synapse_caps.items()
        },
    )


class MinerNeuron(NeuronBase):
    """Serves ``miner`` for ``settings.netuid`` (see the module docstring).

    ``chain`` may be an already connected client (tests share one); otherwise one is opened to
    ``settings.chain.endpoint`` and closed on shutdown.
    """

    role = "miner"

    def __init__(
        self,
        miner: Miner,
        settings: NeuronSettings,
        *,
        chain: ChainClient | None = None,
        **kwargs: Any,
    ) -> None:
        check_axon(settings.axon, self.role)
        if settings.miner.synapse_caps:  # a misspelt synapse fails here, before any chain call
            served = [bound.spec.name for bound in bind_synapses(miner).values()]
            check_synapse_caps(settings.miner.synapse_caps, served, "miner.synapse_caps")
        super().__init__(settings, **kwargs)
        self.miner = miner
        self._own_chain = chain is None
        self.chain = chain or ChainClient(settings.chain.endpoint, timeout=settings.chain.timeout)
        self.sync = MetagraphSync(self.chain, settings.netuid)
        self.server: MinerServer | None = None
        self.uid: int | None = None
        self._uid_of: dict[str, int] = {}
        self._stake: list[float] = []
        self._permit: list[bool] = []
        self.certificate: tls.HotkeyCertificate | None = None
        #: with ``axon.require_client_tls``: the client certificates accepted, and what keeps
        #: them equal to those the admitted validators announce
        self.trusted: TrustedPeers | None = None
        self.validator_certs: ValidatorCertificates | None = None
        self.announced: endpoints.Endpoint | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start_on_chain(self) -> None:
        settings = self.settings
        self.uid = uid = await self.registered_uid(self.chain)
        prepare = getattr(self.miner, "prepare", None)
        if prepare is not None:  # optional hook: load models before taking requests
            result = prepare()
            if inspect.isawaitable(result):
                await result
        self.sync.subscribe(self._on_metagraph)
        await self.sync.refresh()
        self._index(self.sync.metagraph)
        self.spawn_until_stopped(self.sync.run(), name=f"miner-{uid}-sync")
        miner_cfg = settings.miner
        if settings.axon.tls:
            self.certificate = tls.load_or_issue(self.state_dir, self.signer)
        if settings.axon.require_client_tls:
            self.trusted = TrustedPeers(allow=lambda hotkey: self.blacklist(hotkey) is None)
            self.validator_certs = ValidatorCertificates(self.trusted, registry=self.registry)
            self.validator_certs.update(*self._announced_certificates(self.sync.metagraph))
            self.spawn_until_stopped(self.validator_certs.run(), name=f"miner-{uid}-certs")
        self.server = MinerServer(
            self.miner,
            self.signer,
            settings.axon.host,
            settings.axon.port,
            blacklist=self._choose_hook("blacklist", self.blacklist),
            priority=self._choose_hook("priority", self.priority),
            limits=limits_from_settings(miner_cfg),
            metrics_registry=self.registry,
            caller_class=self.caller_class,
            tls=self.certificate,
            client_certificates=self.trusted,
        )
        await self.server.start()
        await self._serve_on_chain(self.server.port)

    def _choose_hook(self, name: str, default: Any) -> Any:
        """The miner's own hook if its class overrides the base one, else the neuron's."""
        if getattr(type(self.miner), name) is not getattr(Miner, name):
            return getattr(self.miner, name)
        return default

    async def _serve_on_chain(self, port: int) -> None:
        axon = self.settings.axon
        self.announced = endpoints.Endpoint(
            axon.external_ip or axon.host,
            axon.external_port or port,
            b"" if self.certificate is None else self.certificate.fingerprint,
            endpoints.MUTUAL_TLS if self.trusted is not None else endpoints.SIGNED,
        )
        assert self.uid is not None
        await endpoints.announce(self.chain, self.signer, self.sync, self.uid, self.announced)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.stop(self.graceful_shutdown_timeout)
        if self._own_chain:
            await self.chain.close()
        await super().close()

    def ready_info(self) -> dict[str, Any]:
        info = super().ready_info()
        info["port"] = self.server.port if self.server is not None else None
        info["uid"] = self.uid
        return info

    # -- metagraph-driven policy -----------------------------------------------------------------
    def _on_metagraph(self, old: Metagraph, new: Metagraph, change: MetagraphDiff) -> None:
        self._index(new)
        self._check_endpoint(old, new)
        if self.validator_certs is not None:
            self.validator_certs.update(*self._announced_certificates(new))
        if self.hotkey in change.deregistered:
            log.error(
                "this miner's hotkey %s was deregistered from subnet %d; re-register: %s",
                self.hotkey,
                self.settings.netuid,
                register_command(self.settings),
            )

    def _check_endpoint(self, old: Metagraph, new: Metagraph) -> None:
        """React when our endpoint on chain *changes* to one we did not announce."""
        uid = self.uid
        if self.announced is None or uid is None or uid >= len(new.axons):
            return
        now = new.axons[uid]
        seen = (now.ip, now.port, now.certificate_fingerprint, now.protocol)
        before = old.axons[uid] if uid < len(old.axons) else None
        if self.announced.held_by(now) or (
            before is not None
            and before.hotkey == now.hotkey
            and (before.ip, before.port, before.certificate_fingerprint, before.protocol) == seen
        ):
            return
        action = self.settings.miner.on_endpoint_taken
        log.error(
            "the endpoint on chain for hotkey %s (uid %d) changed to %s:%d, which this miner "
            "(%s:%d) did not announce: another process is serving with the same hotkey and "
            "validators now query it; %s (miner.on_endpoint_taken=%s)",
            self.hotkey,
            uid,
            now.ip,
            now.port,
            self.announced.ip,
            self.announced.port,
            "stopping" if action == "stop" else "announcing this miner's endpoint again",
            action,
        )
        if action == "stop":
            self.request_stop()
        else:
            self.spawn(self._reannounce(), name=f"miner-{uid}-reannounce")

    async def _reannounce(self) -> None:
        assert self.announced is not None
        try:
            await endpoints.serve(self.chain, self.signer, self.settings.netuid, self.announced)
        except Exception as exc:  # e.g. serving_rate_limit: the next change retries
            log.error(
                "announcing %s:%d again failed: %s", self.announced.ip, self.announced.port, exc
            )

    def _announced_certificates(self, metagraph: Metagraph) -> tuple[int, list[Announced]]:
        """(block, the identity endpoints of every other neuron this miner admits): only
        validators announce one, so no handshake is spent on other miners' certificates."""
        return metagraph.block, [
            Announced(a.hotkey, a.ip, a.port, a.certificate_fingerprint)
            for a in metagraph.axons
            if a.is_serving
            and a.protocol == endpoints.IDENTITY
            and a.certificate_fingerprint
            and a.hotkey != self.hotkey
            and self.blacklist(a.hotkey) is None
        ]

    def _index(self, metagraph: Metagraph) -> None:
        self._uid_of = {hotkey: uid for uid, hotkey in enumerate(metagraph.hotkeys)}
        self._stake = [float(s) for s in metagraph.stake.tolist()]
        self._permit = [bool(p) for p in metagraph.validator_permit.tolist()]
        self.uid = self._uid_of.get(self.hotkey, self.uid)

    def stake_of(self, hotkey: str) -> float | None:
        """The caller's stake (TAO units) on this subnet, or None if not registered."""
        uid = self._uid_of.get(hotkey)
        return None if uid is None else self._stake[uid]

    def blacklist(self, caller: str) -> str | None:
        """Refuse callers that are unregistered, lack a validator permit, or stake too little."""
        uid = self._uid_of.get(caller)
        if uid is None:
            return f"not registered on subnet {self.settings.netuid}"
        if not self._permit[uid]:
            return f"uid {uid} holds no validator permit on subnet {self.settings.netuid}"
        min_stake = self.settings.miner.min_stake
        if self._stake[uid] < min_stake:
            return f"uid {uid} has stake {self._stake[uid]:.3f}, below this miner's {min_stake}"
        return None

    def caller_class(self, caller: str) -> str:
        """A signed caller's standing, for metrics and refusal logs (never its hotkey)."""
        uid = self._uid_of.get(caller)
        if uid is None:
            return "unregistered"
        return "validator" if self._permit[uid] else "registered"

    def priority(self, caller: str) -> float:
        """Serve the callers with the most stake first."""
        return self.stake_of(caller) or 0.0


__all__ = ["MinerNeuron"]

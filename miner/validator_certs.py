"""Which client certificates a miner that requires mutual TLS trusts: those its validators announce.

A validator with a TLS identity serves its hotkey-bound certificate on its endpoint and puts the
certificate's fingerprint on chain (``chain.endpoints.IDENTITY``). On start and after every
metagraph refresh, :class:`ValidatorCertificates` makes the miner's
:class:`~subnetkit.miner.sessions.TrustedPeers` hold exactly the certificates of the neurons the
miner's policy admits (a validator permit and enough stake: ``TrustedPeers.allow``) that
announce one:

* a certificate is fetched from the endpoint with one TLS handshake and kept only if its
  SHA-256 is the fingerprint on chain **and** its binding extension names that same hotkey
  (``tls.bound_hotkey``): the chain and the hotkey's own signature must agree;
* what is trusted already under the same (hotkey, fingerprint) is not fetched again;
* a hotkey that lost its permit, left, or announced another fingerprint is removed at once (its
  old certificate is refused from the next connection on), and the new one fetched;
* fetches run at most ``concurrency`` at a time, each within ``timeout`` seconds; one failure
  never stops the rest, a failed (hotkey, fingerprint) is tried again after ``retry_s`` (a
  certificate that does not match is not fetched again until the chain shows another), and
  failures are logged at most once per ``log_interval`` per kind.

Refreshes coalesce: one sync runs at a time, and metagraphs that arrive meanwhile leave only the
newest to apply next, so a flood of subnet events never queues work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from subnetkit.core.errors import WireError
from subnetkit.core.log import ThrottledLog
from subnetkit.miner.sessions import TrustedPeers
from subnetkit.wire import tls

log = logging.getLogger(__name__)

Fetch = Callable[[str, int, bytes, float], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Announced:
    """A validator's certificate endpoint as the chain shows it."""

    hotkey: str
    host: str
    port: int
    fingerprint: bytes


class ValidatorCertificates:
    """Keeps ``peers`` equal to the certificates on chain (see the module docstring).

    Call :meth:`update` with the announced endpoints of every neuron the policy admits (cheap,
    never blocks) and run :meth:`run` as a task; :meth:`wait_synced` waits for a given
    metagraph block to be applied (tests, readiness). With ``registry``, it exports how many
    certificates are trusted and how many fetches failed, by reason (no per-peer label).
    """

    def __init__(
        self,
        peers: TrustedPeers,
        *,
        fetch: Fetch = tls.fetch_certificate,
        concurrency: int = 8,
        timeout: float = 5.0,
        retry_s: float = 30.0,
        log_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.peers = peers
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry_s = retry_s
        self._fetch = fetch
        self._clock = clock
        self._wanted: tuple[int, dict[str, Announced]] | None = None
        self._changed = asyncio.Event()
        self._synced = asyncio.Condition()
        self.synced_block = -1
        # (hotkey, fingerprint) -> when it may be fetched again (only entries still wanted)
        self._failed: dict[tuple[str, bytes], float] = {}
        self._warn = ThrottledLog(log, log_interval, level=logging.WARNING)
        self._failures: Counter | None = None
        if registry is not None:
            Gauge(
                "subnetkit_miner_trusted_client_certificates",
                "Validators' certificates this miner accepts in mutual TLS",
                registry=registry,
            ).set_function(lambda: len(peers))
            self._failures = Counter(
                "subnetkit_miner_client_certificate_failures",
                "Validator certificates not trusted: unreachable, refused (binding), not_added",
                ["reason"],
                registry=registry,
            )

    def _failed_as(self, reason: str, key: tuple[str, bytes], retry_at: float) -> None:
        self._failed[key] = retry_at
        if self._failures is not None:
            self._failures.labels(reason).inc()

    def update(self, block: int, announced: Iterable[Announced]) -> None:
        """The endpoints wanted as of metagraph ``block``; the newest wins if one is pending."""
        self._wanted = (block, {a.hotkey: a for a in announced})
        self._changed.set()

    async def run(self) -> None:
        """Apply each new set of endpoints in turn, until cancelled."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self._wanted is None:
                continue
            block, wanted = self._wanted
            try:
                await self.sync(wanted)
            except Exception:  # a bug here must not stop the miner; the next refresh retries
                log.exception("updating the trusted client certificates failed")
            async with self._synced:
                self.synced_block = max(self.synced_block, block)
                self._synced.notify_all()

    async def wait_synced(self, block: int, timeout: float | None = None) -> None:
        """Wait until the endpoints of metagraph ``block`` (or a later one) are applied."""
        async with asyncio.timeout(timeout), self._synced:
            await self._synced.wait_for(lambda: self.synced_block >= block)

    async def sync(self, wanted: dict[str, Announced]) -> None:
        """Make ``peers`` hold exactly the certificates ``wanted`` names (what can be fetched)."""
        for hotkey in list(self.peers.hotkeys()):
            want = wanted.get(hotkey)
            if want is None or self.peers.fingerprint_of(hotkey) != want.fingerprint:
                self.peers.remove(hotkey)
                log.info("no longer trusting the client certificate of %s", hotkey)
        keys = {(a.hotkey, a.fingerprint) for a in wanted.values()}
        self._failed = {key: at for key, at in self._failed.items() if key in keys}
        now = self._clock()
        todo = [
            a
            for a in wanted.values()
            if self.peers.fingerprint_of(a.hotkey) != a.fingerprint
            and self._failed.get((a.hotkey, a.fingerprint), now) <= now
        ]
        if not todo:
            return
        slots = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(*(self._trust(a, slots) for a in todo))

    async def _trust(self, announced: Announced, slots: asyncio.Semaphore) -> None:
        a = announced
        async with slots:
            try:
                # the whole fetch, closing included: a peer that stalls its TLS shutdown
                # must not hold a slot longer than a slow handshake would
                async with asyncio.timeout(2 * self.timeout):
                    pem = await self._fetch(a.host, a.port, a.fingerprint, self.timeout)
            except (WireError, OSError, TimeoutError) as exc:
                self._failed_as(
                    "unreachable", (a.hotkey, a.fingerprint), self._clock() + self.retry_s
                )
                self._warn.log(
                    "unreachable",
                    "cannot fetch the TLS certificate validator %s announces at %s:%d (%s); "
                    "it cannot connect here until it does (retrying in %.0f s)",
                    a.hotkey,
                    a.host,
                    a.port,
                    exc,
                    self.retry_s,
                )
                return
        try:
            bound = tls.bound_hotkey(pem)
            if bound != a.hotkey:
                raise WireError(f"its binding names {bound}, not the hotkey that announced it")
        except (WireError, ValueError) as exc:  # ValueError: extensions x509 cannot parse
            # Not retried: the same fingerprint is the same certificate. A new one on chain is.
            self._failed_as("refused", (a.hotkey, a.fingerprint), float("inf"))
            self._warn.log(
                "refused",
                "not trusting the TLS certificate validator %s announces at %s:%d: %s",
                a.hotkey,
                a.host,
                a.port,
                exc.message if isinstance(exc, WireError) else f"unreadable certificate: {exc}",
            )
            return
        try:
            self.peers.add(pem)
        except WireError as exc:  # the policy changed meanwhile, or the set is full
            self._failed_as("not_added", (a.hotkey, a.fingerprint), self._clock() + self.retry_s)
            self._warn.log(
                "not added", "not trusting validator %s's certificate: %s", a.hotkey, exc.message
            )
            return
        log.info("trusting the client certificate of validator %s", a.hotkey)


__all__ = ["Announced", "ValidatorCertificates"]

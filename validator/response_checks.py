"""Which responses a client verifies: every one, except a sample of those in session mode.

In session mode the channel is mutual TLS pinned to the miner's certificate, whose fingerprint
the miner's hotkey published on chain and whose key its hotkey signed (docs/protocol.md, TLS):
every byte on it already comes from that hotkey's certificate holder. The response signature
is kept as evidence of what the miner answered (for anyone else to check later), so verifying
each one on the hot path is redundant for the client itself; it costs one sr25519 verification
per response, the largest client cost left in session mode (``bench/wire.py``).

Verifying a random sample still catches a miner that sends bad signatures: the first failure
fails that response and puts the miner on a strict list (bounded, most recent kept), after which
every response of that miner is verified.
"""

from __future__ import annotations

import random
from collections import OrderedDict


class ResponseChecks:
    """``wants(hotkey, session)``: verify this response? ``failed(hotkey)``: it did not verify.

    ``session_sample`` is the share of session-mode responses verified (1.0: all of them).
    """

    def __init__(self, session_sample: float = 1.0, max_strict: int = 4096) -> None:
        if not 0.0 < session_sample <= 1.0:
            raise ValueError(f"session_sample must be in (0, 1], not {session_sample}")
        self.session_sample = session_sample
        self.max_strict = max_strict
        self._strict: OrderedDict[str, None] = OrderedDict()
        self._random = random.Random()

    def wants(self, hotkey: str, session: bool) -> bool:
        if not session or self.session_sample >= 1.0 or hotkey in self._strict:
            return True
        return self._random.random() < self.session_sample

    def failed(self, hotkey: str) -> None:
        self._strict[hotkey] = None
        self._strict.move_to_end(hotkey)
        while len(self._strict) > self.max_strict:
            self._strict.popitem(last=False)

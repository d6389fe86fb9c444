"""``RoundSummary``: one INFO line a minute about the validator's rounds, not one per block.

At 250 ms blocks a line per round is 14,400 lines an hour that say the same thing; an operator
wants to know that rounds happen, how many miners answer and how long scoring takes. Each
round's own line stays available at DEBUG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("subnetkit.validator.neuron")


class RoundSummary:
    """Accumulates rounds; logs a summary when ``interval`` seconds have passed."""

    def __init__(
        self, interval: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._since = clock()
        self._reset()

    def _reset(self) -> None:
        self.rounds = 0
        self.failed = 0
        self.queried = 0
        self.answered = 0
        self.scoring_s = 0.0

    def add(self, result: Any | None, queried: int) -> bool:
        """Count one round (``result`` a ``RoundScores`` or None); True if a line was logged."""
        self.rounds += 1
        if result is None:
            self.failed += 1 if queried else 0
        else:
            self.queried += queried
            self.answered += int(result.scored)
            self.scoring_s += float(result.seconds)
        now = self._clock()
        if now - self._since < self.interval:
            return False
        scored = self.rounds - self.failed
        log.info(
            "%d rounds in the last %.0f s: %d/%d answers, scoring %.1f ms per round%s",
            self.rounds,
            now - self._since,
            self.answered,
            self.queried,
            1000 * self.scoring_s / scored if scored else 0.0,
            f", {self.failed} failed" if self.failed else "",
        )
        self._since = now
        self._reset()
        return True


__all__ = ["RoundSummary"]

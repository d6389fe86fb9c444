"""Proto <-> arrays for the embedding wire, with every size and shape check in one place.

Answers are one packed little-endian float32 buffer (``count * dim`` values), decoded with a
single zero-copy ``numpy.frombuffer``. A malformed answer raises :class:`WireError` with
``INVALID_ARGUMENT``; the validator's client turns that into a per-miner failure (score 0),
never into a crashed round.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import numpy as np
import torch

from subnetkit.core.errors import WireError
from subnetkit.subnets.embedding import EMBEDDING_DIM
from subnetkit.subnets.embedding.embedding_pb2 import EmbedRequest, EmbedResponse

MAX_TEXTS = 64
"""Most texts one request may carry (bounds a miner's work per call)."""
MAX_TEXT_CHARS = 2000
"""Longest text accepted; the reference model truncates at 256 tokens anyway."""

_LE_FLOAT32 = np.dtype("<f4")


def _bad(message: str, code: str) -> WireError:
    return WireError(message, status=grpc.StatusCode.INVALID_ARGUMENT, code=code)


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate a batch of texts against the subnet's limits; returns them as a list."""
    items = list(texts)
    if not items:
        raise _bad("EmbedRequest has no texts: send between 1 and 64 texts", "empty_request")
    if len(items) > MAX_TEXTS:
        raise _bad(
            f"EmbedRequest has {len(items)} texts; at most {MAX_TEXTS} per request",
            "too_many_texts",
        )
    for i, text in enumerate(items):
        if len(text) > MAX_TEXT_CHARS:
            raise _bad(
                f"text {i} is {len(text)} characters; at most {MAX_TEXT_CHARS}", "text_too_long"
            )
    return items


def encode_request(texts: Sequence[str]) -> EmbedRequest:
    """Validator side: the request for one round's texts."""
    return EmbedRequest(texts=check_texts(texts))


def encode_embeddings(vectors: np.ndarray | torch.Tensor) -> EmbedResponse:
    """Miner side: pack a ``[count, dim]`` float array into an :class:`EmbedResponse`."""
    if isinstance(vectors, torch.Tensor):
        vectors = vectors.detach().to("cpu", torch.float32).numpy()
    array = np.ascontiguousarray(vectors, dtype=_LE_FLOAT32)
    if array.ndim != 2:
        raise _bad(f"embeddings must be 2-D [count, dim], got shape {array.shape}", "bad_shape")
    count, dim = array.shape
    return EmbedResponse(count=count, dim=dim, vectors=array.tobytes())


def decode_embeddings(
    response: EmbedResponse, *, count: int | None = None, dim: int = EMBEDDING_DIM
) -> np.ndarray:
    """Validator side: the ``[count, dim]`` float32 array an answer carries (read-only view).

    Checks the declared shape against what was asked (``count`` texts, ``dim`` wide), the
    buffer length against the declared shape, and that every value is finite.
    """
    if count is not None and response.count != count:
        raise _bad(f"answer has {response.count} embeddings for {count} texts", "wrong_count")
    if response.dim != dim:
        raise _bad(f"answer has dimension {response.dim}, the subnet uses {dim}", "wrong_dim")
    expected = response.count * response.dim * _LE_FLOAT32.itemsize
    if len(response.vectors) != expected:
        raise _bad(
            f"answer carries {len(response.vectors)} bytes; {response.count}x{response.dim} "
            f"float32 needs {expected}",
            "wrong_size",
        )
    array = np.frombuffer(response.vectors, dtype=_LE_FLOAT32).reshape(response.count, dim)
    if not np.isfinite(array).all():
        raise _bad("answer contains NaN or infinite values", "not_finite")
    return array


__all__ = [
    "MAX_TEXTS",
    "MAX_TEXT_CHARS",
    "check_texts",
    "decode_embeddings",
    "encode_embeddings",
    "encode_request",
]

"""Weights and bonds on the wire: an n×n u16 matrix as its stored sparse rows, in three
little-endian byte arrays (``SparseU16Matrix``).

Why not ``repeated uint32`` of all n*n entries: at n = 4096 that is 16.7M varints per matrix,
which the protobuf runtime converts one Python int at a time (~0.85 s on the chain to build
both, ~4 s in the client to turn them into tensors, ~35 MB on the wire even when nearly all
zero). Here both sides convert whole arrays at once (numpy/torch), and only stored entries
travel: 64 validators' full rows at n = 4096 are ~1 MB.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from subnetkit.chain.errors import chain_error
from subnetkit.chain.records import SparseRow
from subnetkit.protos.chain.v1 import chain_pb2 as pb

if TYPE_CHECKING:
    import torch

U16_MAX = 65535


def encode(rows: Sequence[SparseRow | None], n: int) -> pb.SparseU16Matrix:
    """``rows[i]`` is row ``i``'s stored ``(col, value)`` pairs (None or empty: no entries).
    Entries whose column is ``>= n`` (left over from a larger subnet) are dropped."""
    if len(rows) != n:
        raise ValueError(f"{len(rows)} rows for an n={n} matrix")
    lengths = np.fromiter((len(r) if r else 0 for r in rows), dtype=np.int64, count=n)
    total = int(lengths.sum())
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(r for r in rows if r)),
        dtype=np.int64,
        count=2 * total,
    ).reshape(total, 2)
    cols, values = flat[:, 0], flat[:, 1]
    inside = cols < n
    if not bool(inside.all()):
        row_of = np.repeat(np.arange(n), lengths)[inside]
        lengths = np.bincount(row_of, minlength=n)
        cols, values = cols[inside], values[inside]
    if total and (int(values.min()) < 0 or int(values.max()) > U16_MAX or int(cols.min()) < 0):
        raise chain_error("internal", "a stored weight or bond row is not u16 (state corrupt?)")
    return pb.SparseU16Matrix(
        n=n,
        row_lengths=lengths.astype("<u4").tobytes(),
        cols=cols.astype("<u2").tobytes(),
        values=values.astype("<u2").tobytes(),
    )


def decode(matrix: pb.SparseU16Matrix, n: int) -> torch.Tensor:
    """The dense ``n × n`` int64 tensor of ``matrix`` (zeros where nothing is stored)."""
    import torch

    dense = torch.zeros((n, n), dtype=torch.int64)
    if matrix.n != n:
        raise ValueError(f"sparse matrix is n={matrix.n}, the metagraph n={n}")
    lengths = np.frombuffer(matrix.row_lengths, dtype="<u4")
    cols = np.frombuffer(matrix.cols, dtype="<u2")
    values = np.frombuffer(matrix.values, dtype="<u2")
    if len(lengths) != n or len(cols) != len(values) or int(lengths.sum()) != len(cols):
        raise ValueError(
            f"malformed sparse matrix: {len(lengths)} row lengths (sum {int(lengths.sum())}) "
            f"for n={n}, {len(cols)} cols, {len(values)} values"
        )
    if len(cols) == 0:
        return dense
    if int(cols.max()) >= n:
        raise ValueError(f"sparse matrix column {int(cols.max())} is outside n={n}")
    rows = torch.repeat_interleave(torch.arange(n), torch.from_numpy(lengths.astype(np.int64)))
    dense[rows, torch.from_numpy(cols.astype(np.int64))] = torch.from_numpy(values.astype(np.int64))
    return dense

"""A compiled candidate filter for the tiled search (optional: used when numba is installed).

After a tile's matrix product, the search needs the positions whose lower bound is within their row's bound
and those within their column's bound. In torch that is a row minimum, a column minimum, comparisons and
``nonzero`` over the rows and columns that can hold a candidate: several passes over the tile and dozens of small
operations, each holding Python's GIL between kernels, so two worker threads get in each other's way. Compiled,
it is one vectorised counting pass and a short scan of the rows and columns that counted, run without the GIL.
The results are the same positions (the caller re-checks every candidate exactly either way).

``pip install lightning-faithful[fast]`` installs numba; without it the torch filter runs. The first use in a
process compiles the filter (about a second; cached on disk where numba can write its cache).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

try:  # optional dependency
    import numba
except ImportError:  # pragma: no cover - exercised by the tests through AVAILABLE
    numba = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "below", "merge_smallest"]

#: Whether the compiled filter is used (numba installed, and not switched off with FAITHFUL_NO_NUMBA=1).
AVAILABLE = numba is not None and os.environ.get("FAITHFUL_NO_NUMBA", "") not in ("1", "true", "yes")


def _below(lower: np.ndarray, row_cap: np.ndarray, col_cap: np.ndarray) -> tuple[np.ndarray, ...]:
    """(row_i, row_j) with ``lower[i, j] <= row_cap[i]`` and (col_i, col_j) with ``lower[i, j] <= col_cap[j]``.

    Row-major order in both. A column (row) whose cap is -inf is never a candidate; +inf entries (self) never
    are, as caps are finite.
    """
    rows, cols = lower.shape
    row_count = np.zeros(rows, np.int32)
    col_count = np.zeros(cols, np.int32)
    # One pass counting both directions: branch-free, so the compiler vectorises it.
    for i in range(rows):
        row = lower[i]
        cap = row_cap[i]
        count = np.int32(0)
        for j in range(cols):
            value = row[j]
            count += np.int32(value <= cap)
            col_count[j] += np.int32(value <= col_cap[j])
        row_count[i] = count
    row_i = np.empty(row_count.sum(), np.int64)
    row_j = np.empty(row_i.size, np.int64)
    at = 0
    for i in range(rows):
        if row_count[i]:
            row = lower[i]
            cap = row_cap[i]
            for j in range(cols):
                if row[j] <= cap:
                    row_i[at] = i
                    row_j[at] = j
                    at += 1
    hit = np.nonzero(col_count)[0]
    caps = col_cap[hit]
    col_i = np.empty(col_count.sum(), np.int64)
    col_j = np.empty(col_i.size, np.int64)
    at = 0
    if hit.size:
        for i in range(rows):
            row = lower[i]
            for t in range(hit.size):
                if row[hit[t]] <= caps[t]:
                    col_i[at] = i
                    col_j[at] = hit[t]
                    at += 1
    return row_i, row_j, col_i, col_j


def _merge_smallest(best: np.ndarray, points: np.ndarray, values: np.ndarray) -> None:
    """Insert ``values[p]`` into the ascending row ``best[points[p]]``, keeping its k smallest (in place)."""
    k = best.shape[1]
    for p in range(points.size):
        row = best[points[p]]
        value = values[p]
        if value < row[k - 1]:
            at = k - 1
            while at > 0 and row[at - 1] > value:
                row[at] = row[at - 1]
                at -= 1
            row[at] = value


if numba is not None:
    _below_compiled = numba.njit(nogil=True, cache=True, boundscheck=False)(_below)
    _merge_smallest_compiled = numba.njit(nogil=True, cache=True, boundscheck=False)(_merge_smallest)


def below(lower: Tensor, row_cap: Tensor, col_cap: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The compiled filter on CPU tensors: ``lower`` (float32, contiguous), the float32 caps of its rows and columns."""
    out = _below_compiled(lower.numpy(), row_cap.contiguous().numpy(), col_cap.contiguous().numpy())
    return tuple(torch.from_numpy(x) for x in out)  # type: ignore[return-value]


def merge_smallest(best: Tensor, points: Tensor, values: Tensor) -> None:
    """The compiled merge on CPU tensors: ``best`` ``(n, k)`` ascending rows, updated in place."""
    _merge_smallest_compiled(best.numpy(), points.contiguous().numpy(), values.to(best.dtype).contiguous().numpy())

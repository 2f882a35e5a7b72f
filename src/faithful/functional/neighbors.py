"""Exact nearest neighbours by chunked matrix products: the hot path.

Distances are filtered with a float32 GEMM (``|a|^2 - 2 a.b + |b|^2``, the fastest thing a CPU or GPU
can do) and every decision is then taken on *exact* float64 distances of a few candidate pairs computed
from direct differences. The filter keeps every pair whose float32 value could, within a rigorous
rounding-error bound, be the answer, so float32 cancellation (data far from the origin, near-duplicates)
never changes a neighbour, a tie or a flag.

Everything works on the device of the inputs and needs memory O(chunk_size x n): no n x m matrix.
All distances returned here are *squared* Euclidean distances in float64.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "CrossNeighbors",
    "PreparedSet",
    "cross_nearest",
    "default_chunk_size",
    "prepare",
    "real_knn",
    "squared_distances",
]

# Elements of one float32 distance block (about 128 MB): big enough for an efficient GEMM, small
# enough that a block, its mask and the temporaries fit comfortably next to the data.
_BLOCK_ELEMENTS = 2**25
# Candidate pairs refined at once: bounds the float64 gather to about 32 MB for d = 512.
_PAIR_ELEMENTS = 2**22


class PreparedSet(NamedTuple):
    """A point set ready for the GEMM filter (all in the original device).

    ``data`` is the caller's tensor (used for the exact differences), ``centered`` the float32 copy
    shifted by the shared origin, ``sq_norms`` its squared norms (float32, computed in float64).
    """

    data: Tensor
    centered: Tensor
    sq_norms: Tensor


class CrossNeighbors(NamedTuple):
    """Both directions of the real x synthetic nearest-neighbour search (squared distances)."""

    real_to_synthetic: Tensor  #: (n,) float64, ||r_i - g_{j*(i)}||^2
    real_to_synthetic_index: Tensor  #: (n,) int64, j*(i)
    synthetic_to_real: Tensor  #: (m,) float64, ||g_j - r_{i*(j)}||^2
    synthetic_to_real_index: Tensor  #: (m,) int64, i*(j)


def default_chunk_size(num_rows: int, num_cols: int) -> int:
    """Rows per block so that one (chunk x num_cols) float32 block holds about 2**25 elements."""
    return max(1, min(num_rows, _BLOCK_ELEMENTS // max(1, num_cols)))


def prepare(data: Tensor, origin: Tensor) -> PreparedSet:
    """Shift ``data`` by ``origin`` (float64) and keep a float32 copy for the GEMM filter.

    Centering removes the large common offset that makes ``|a|^2 - 2 a.b + |b|^2`` lose its digits.
    """
    centered = (data.to(torch.float64) - origin).to(torch.float32)
    sq_norms = centered.to(torch.float64).square().sum(dim=1).to(torch.float32)
    return PreparedSet(data, centered, sq_norms)


def _tree_sum(x: Tensor) -> Tensor:
    """Row sums with a fixed pairwise order.

    ``Tensor.sum`` may reorder the additions with the tensor's shape and the number of threads, which
    can move a distance by one ulp between two chunkings and flip an exact tie. Adding halves of a
    zero-padded power-of-two width gives the same bits for a row whatever else is in the batch, on any
    device.
    """
    width = x.shape[1]
    padded = 1 << max(0, (width - 1).bit_length())
    if padded != width:
        x = torch.nn.functional.pad(x, (0, padded - width))
    while x.shape[1] > 1:
        half = x.shape[1] // 2
        x = x[:, :half] + x[:, half:]
    return x[:, 0]


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """Exact (float64, direct differences) squared distances between matching rows of ``a`` and ``b``."""
    diff = a.to(torch.float64) - b.to(torch.float64)
    return _tree_sum(diff * diff)


def _pair_distances(a: Tensor, a_index: Tensor, b: Tensor, b_index: Tensor) -> Tensor:
    """Exact squared distances for the pairs (a[a_index[p]], b[b_index[p]]), in bounded batches."""
    num_pairs = a_index.numel()
    batch = max(1, _PAIR_ELEMENTS // max(1, a.shape[1]))
    if num_pairs <= batch:
        return squared_distances(a[a_index], b[b_index])
    return torch.cat(
        [squared_distances(a[a_index[s : s + batch]], b[b_index[s : s + batch]]) for s in range(0, num_pairs, batch)]
    )


def _unit_roundoff(device: torch.device) -> float:
    """Unit roundoff of the float32 matrix product on ``device`` (TF32/bf16 when torch allows them)."""
    precision = torch.get_float32_matmul_precision()
    if device.type == "cuda" and (precision != "highest" or torch.backends.cuda.matmul.allow_tf32):
        return 2.0**-11 if precision != "medium" else 2.0**-8
    if precision == "medium":  # oneDNN may use bfloat16 on CPU
        return 2.0**-8
    return 2.0**-24


def _error_factor(dim: int, device: torch.device) -> float:
    """``tol`` such that |computed - exact| <= tol * (|a|^2 + |b|^2) for one float32 GEMM distance.

    Worst-case dot-product accumulation (d u), input rounding to float32 (4u), norms and the final
    additions (about 8u): (d + 12) u, doubled for safety. It only widens the candidate filter.
    """
    return 2.0 * (dim + 16) * _unit_roundoff(device)


def _block_bounds(rows: PreparedSet, row_slice: slice, cols: PreparedSet, tol: float) -> tuple[Tensor, Tensor, Tensor]:
    """Lower bounds L_ij <= ||r_i - g_j||^2 for one block, with the row/column squared norms.

    L = (1 - tol)(|r|^2 + |g|^2) - 2 r.g and the true value lies in [L, L + 2 tol (|r|^2 + |g|^2)].
    """
    r = rows.centered[row_slice]
    rn = rows.sq_norms[row_slice]
    lower = torch.addmm(((1.0 - tol) * cols.sq_norms).unsqueeze(0), r, cols.centered.T, alpha=-2.0)
    lower += ((1.0 - tol) * rn).unsqueeze(1)
    return lower, rn, cols.sq_norms


def real_knn(real: PreparedSet, k: int, chunk_size: int | None = None) -> Tensor:
    """Exact squared distances from each real sample to its ``k`` nearest *other* real samples.

    Self is excluded by index (a duplicate of r_i counts as a neighbour at distance 0).

    Returns:
        ``(n, k)`` float64, each row ascending.
    """
    n, dim = real.centered.shape
    device = real.centered.device
    tol = _error_factor(dim, device)
    chunk = chunk_size or default_chunk_size(n, n)
    out = torch.empty(n, k, dtype=torch.float64, device=device)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = torch.arange(start, stop, device=device)
        lower, rn, cn = _block_bounds(real, slice(start, stop), real, tol)
        lower[rows - start, rows] = math.inf  # self excluded by index
        top_lower, top_index = torch.topk(lower, k, dim=1, largest=False, sorted=False)
        # Any k distinct others bound the true k-th distance from above.
        upper = (top_lower + 2.0 * tol * (rn.unsqueeze(1) + cn[top_index])).amax(dim=1)
        cand_row, cand_col = torch.nonzero(lower <= upper.unsqueeze(1), as_tuple=True)
        del lower
        exact = _pair_distances(real.data, cand_row + start, real.data, cand_col)
        # Sort candidates by (row, exact distance) and read the first k of every row.
        order = torch.argsort(exact, stable=True)
        order = order[torch.argsort(cand_row[order], stable=True)]
        exact = exact[order]
        counts = torch.bincount(cand_row, minlength=stop - start)
        first = torch.cumsum(counts, 0) - counts
        take = first.unsqueeze(1) + torch.arange(k, device=device)
        out[start:stop] = exact[take]
    return out


def _segment_argmin(segment: Tensor, value: Tensor, index: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Per segment the minimum ``value`` and, among equal minima, the smallest ``index``.

    Segments without any entry get (+inf, -1).
    """
    best = torch.full((size,), math.inf, dtype=value.dtype, device=value.device)
    best.scatter_reduce_(0, segment, value, reduce="amin")
    is_best = value == best[segment]
    big = torch.iinfo(torch.int64).max
    best_index = torch.full((size,), big, dtype=torch.int64, device=value.device)
    best_index.scatter_reduce_(0, segment[is_best], index[is_best], reduce="amin")
    best_index[best_index == big] = -1
    return best, best_index


def cross_nearest(real: PreparedSet, synthetic: PreparedSet, chunk_size: int | None = None) -> CrossNeighbors:
    """One pass over the real x synthetic blocks gives both nearest-neighbour directions, exactly.

    For each real r_i: j*(i) = argmin_j ||r_i - g_j||; for each synthetic g_j: i*(j) = argmin_i. Ties go
    to the smallest index.
    """
    n, dim = real.centered.shape
    m = synthetic.centered.shape[0]
    device = real.centered.device
    tol = _error_factor(dim, device)
    chunk = chunk_size or default_chunk_size(n, m)
    r2s = torch.empty(n, dtype=torch.float64, device=device)
    r2s_index = torch.empty(n, dtype=torch.int64, device=device)
    s2r = torch.full((m,), math.inf, dtype=torch.float64, device=device)
    s2r_index = torch.full((m,), -1, dtype=torch.int64, device=device)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lower, rn, gn = _block_bounds(real, slice(start, stop), synthetic, tol)
        row_low, row_arg = lower.min(dim=1)
        col_low, col_arg = lower.min(dim=0)
        # An upper bound on each row's (column's) true minimum: the bound's own argmin, widened.
        row_upper = row_low + 2.0 * tol * (rn + gn[row_arg])
        col_upper = col_low + 2.0 * tol * (gn + rn[col_arg])
        # A column cannot improve on the exact best of earlier blocks when its lower bound exceeds it.
        col_upper = torch.minimum(col_upper, s2r.to(col_upper.dtype))
        mask = lower <= row_upper.unsqueeze(1)
        mask |= lower <= col_upper.unsqueeze(0)
        del lower
        cand_row, cand_col = torch.nonzero(mask, as_tuple=True)
        del mask
        exact = _pair_distances(real.data, cand_row + start, synthetic.data, cand_col)
        # Real -> synthetic: every row of the block has its own argmin among the candidates.
        best, best_col = _segment_argmin(cand_row, exact, cand_col, stop - start)
        r2s[start:stop] = best
        r2s_index[start:stop] = best_col
        # Synthetic -> real: merge the block's best with earlier blocks; rows grow with the blocks, so
        # an equal distance keeps the earlier (smaller) index.
        block_best, block_row = _segment_argmin(cand_col, exact, cand_row + start, m)
        better = block_best < s2r
        s2r = torch.where(better, block_best, s2r)
        s2r_index = torch.where(better, block_row, s2r_index)
    return CrossNeighbors(r2s, r2s_index, s2r, s2r_index)

"""Exact nearest neighbours by tiled matrix products: the hot path.

Distances are filtered with a float32 GEMM (``|a|^2 - 2 a.b + |b|^2``, the fastest thing a CPU or GPU
can do) and every decision is then taken on *exact* float64 distances of a few candidate pairs computed
from direct differences. The filter keeps every pair whose float32 value could, within a rigorous
rounding-error bound, be the answer, so float32 cancellation (data far from the origin, near-duplicates)
never changes a neighbour, a tie or a flag.

The work is done tile by tile (``chunk_size`` rows x a fixed number of columns), with running results
per sample, so memory stays O(chunk_size x tile width): never an n x m matrix. All distances returned
here are *squared* Euclidean distances in float64.

How the time is kept close to the GEMM floor:

- real x real is symmetric: each unordered pair is computed once (tiles on and above the diagonal band),
  and a tile serves both its rows and its columns, which halves that matrix product;
- exact results found so far bound what a later tile can still improve (for the k-th nearest real
  neighbour, the nearest synthetic and the nearest real sample), so after the first tile of a row or
  column the filter is a single comparison against that bound: no further row or column minimum, no
  top-k, and only the few pairs that can still matter are re-checked exactly;
- tiles are small enough for the elementwise passes (shift, compare, ``nonzero``) to run from cache, and
  their buffers are allocated once per call.

Data of any scale: the filter works on a copy scaled by a power of two (exact) so that float32 neither
overflows nor underflows; an absolute slack term covers what gradual underflow may still lose.
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

# Rows and columns of one tile of the distance matrix: 2048 x 2048 float32 is 16 MB, about what stays in
# cache between the passes, and still a large enough matrix product to run at full speed.
_TILE = 2048
# Elements of the float64 working copy while candidate pairs are re-checked (2 MB: stays in cache).
_PAIR_ELEMENTS = 2**18
# Elements of the float64 working copy in `prepare` (2 MB: stays in cache, bounds the temporary memory).
_ROW_ELEMENTS = 2**18
# float32 limits used by the filter's bounds.
_FLOAT32_MAX = torch.finfo(torch.float32).max
_FLOAT32_TINY = torch.finfo(torch.float32).tiny


class PreparedSet(NamedTuple):
    """A point set ready for the GEMM filter (all in the original device).

    ``data`` is the caller's tensor (used for the exact differences); ``centered`` is the float32 copy
    ``(data - origin) * scale``, with ``scale`` a power of two that keeps its entries within [-1, 1];
    ``sq_norms`` its squared norms (float32, computed in float64).
    """

    data: Tensor
    centered: Tensor
    sq_norms: Tensor
    scale: float = 1.0


class CrossNeighbors(NamedTuple):
    """Both directions of the real x synthetic nearest-neighbour search (squared distances)."""

    real_to_synthetic: Tensor  #: (n,) float64, ||r_i - g_{j*(i)}||^2
    real_to_synthetic_index: Tensor  #: (n,) int64, j*(i)
    synthetic_to_real: Tensor  #: (m,) float64, ||g_j - r_{i*(j)}||^2
    synthetic_to_real_index: Tensor  #: (m,) int64, i*(j)


def default_chunk_size(num_rows: int, num_cols: int) -> int:
    """Rows of one tile when ``chunk_size`` is not given (tiles are at most ``_TILE`` columns wide)."""
    del num_cols  # the tile width is fixed, so the default does not depend on it
    return max(1, min(num_rows, _TILE))


def _row_step(num_cols: int) -> int:
    return max(1, _ROW_ELEMENTS // max(1, num_cols))


def _row_batches(num_rows: int, num_cols: int) -> range:
    return range(0, num_rows, _row_step(num_cols))


def _power_of_two_scale(max_abs: float) -> float:
    """2**-e with max_abs * 2**-e in (1/2, 1]: multiplying by it is exact and keeps float32 in range."""
    if not math.isfinite(max_abs) or max_abs == 0.0:
        return 1.0
    _, exponent = math.frexp(max_abs)  # max_abs = mantissa * 2**exponent, mantissa in [1/2, 1)
    return math.ldexp(1.0, -exponent)


def prepare(data: Tensor, origin: Tensor) -> PreparedSet:
    """Shift ``data`` by ``origin`` (float64), scale it by a power of two and keep a float32 copy.

    Centering removes the large common offset that makes ``|a|^2 - 2 a.b + |b|^2`` lose its digits;
    scaling keeps the float32 products and norms far from overflow and underflow.
    """
    num, dim = data.shape
    scale = 1.0
    if data.numel():
        # max |data - origin| from the per-feature extremes: no float64 copy of the data needed.
        high = (data.amax(dim=0).to(torch.float64) - origin).abs()
        low = (data.amin(dim=0).to(torch.float64) - origin).abs()
        scale = _power_of_two_scale(float(torch.maximum(high, low).max()))
    centered = torch.empty(num, dim, dtype=torch.float32, device=data.device)
    sq_norms = torch.empty(num, dtype=torch.float32, device=data.device)
    for s in _row_batches(num, dim):
        rows = slice(s, s + _row_step(dim))
        work = data[rows].to(torch.float64) - origin
        if scale != 1.0:
            work *= scale  # exact: a power of two
        centered[rows] = work
        sq_norms[rows] = work.copy_(centered[rows]).square_().sum(dim=1)  # norms of the float32 copy
    return PreparedSet(data, centered, sq_norms, scale)


def _sq_norms(centered: Tensor) -> Tensor:
    """Squared norms of float32 rows, computed in float64."""
    out = torch.empty(centered.shape[0], dtype=torch.float32, device=centered.device)
    for s in _row_batches(*centered.shape):
        rows = slice(s, s + _row_step(centered.shape[1]))
        out[rows] = centered[rows].to(torch.float64).square_().sum(dim=1)
    return out


def _tree_sum_(x: Tensor) -> Tensor:
    """Row sums with a fixed pairwise order, accumulated in place (``x`` is overwritten).

    ``Tensor.sum`` may reorder the additions with the tensor's shape and the number of threads, which
    can move a distance by one ulp between two chunkings and flip an exact tie. Adding halves of a
    (virtually) zero-padded power-of-two width gives the same bits for a row whatever else is in the
    batch, on any device. Adding a zero is exact, so the padding is never materialised.
    """
    width = x.shape[1]
    if width == 0:
        return x.new_zeros(x.shape[0])
    size = 1 << (width - 1).bit_length()
    while size > 1:
        half = size // 2
        if width > half:
            x[:, : width - half] += x[:, half:width]
            width = half
        size = half
    return x[:, 0]


def _squared_distances_batch(a: Tensor, b: Tensor) -> Tensor:
    diff = a.to(torch.float64, copy=True)
    diff -= b
    diff *= diff
    return _tree_sum_(diff)


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """Exact (float64, direct differences) squared distances between matching rows of ``a`` and ``b``."""
    num, dim = a.shape
    out = torch.empty(num, dtype=torch.float64, device=a.device)
    step = max(1, _PAIR_ELEMENTS // max(1, dim))
    for s in range(0, num, step):
        out[s : s + step] = _squared_distances_batch(a[s : s + step], b[s : s + step])
    return out


def _pair_distances(a: Tensor, a_index: Tensor, b: Tensor, b_index: Tensor) -> Tensor:
    """Exact squared distances for the pairs (a[a_index[p]], b[b_index[p]]), in cache-sized batches."""
    num_pairs = a_index.numel()
    out = torch.empty(num_pairs, dtype=torch.float64, device=a.device)
    step = max(1, _PAIR_ELEMENTS // max(1, a.shape[1]))
    for s in range(0, num_pairs, step):
        rows, cols = a_index[s : s + step], b_index[s : s + step]
        out[s : s + step] = _squared_distances_batch(a.index_select(0, rows), b.index_select(0, cols))
    return out


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
    additions (about 8u): (d + 12) u, doubled for safety. It only widens the candidate filter. The
    margin also covers the few roundings made when the filter's thresholds are formed.
    """
    return 2.0 * (dim + 16) * _unit_roundoff(device)


def _round_up_float32(x: Tensor) -> Tensor:
    """The smallest float32 values >= ``x`` (float64): safe float32 stand-ins for exact upper bounds."""
    y = x.to(torch.float32)
    return torch.where(y.to(torch.float64) < x, torch.nextafter(y, torch.full_like(y, math.inf)), y)


def _common_scale(rows: PreparedSet, cols: PreparedSet) -> tuple[Tensor, Tensor, Tensor, Tensor, float]:
    """Both sets' float32 copies and norms at one scale (the smaller factor: nothing can overflow)."""
    scale = min(rows.scale, cols.scale)
    out: list[Tensor] = []
    for prepared in (rows, cols):
        if prepared.scale == scale:
            out += [prepared.centered, prepared.sq_norms]
        else:  # a power of two: exact but for values pushed below float32's range, which the slack covers
            centered = prepared.centered * (scale / prepared.scale)
            out += [centered, _sq_norms(centered)]
    return out[0], out[1], out[2], out[3], scale


def _column_min(x: Tensor) -> Tensor:
    """``x.amin(dim=0)``, by way of 16 row groups: torch reduces those several times faster."""
    rows = x.shape[0]
    main = rows - rows % 16
    if main == 0:
        return x.amin(dim=0)
    out = x[:main].unflatten(0, (16, main // 16)).amin(dim=1).amin(dim=0)
    if main < rows:
        out = torch.minimum(out, x[main:].amin(dim=0))
    return out


class _Tiles:
    """Lower bounds ``L_ij <= s^2 ||r_i - g_j||^2`` (``s``: the common scale) for tiles of rows x columns.

    ``L = (1 - tol)(|r_i|^2 + |g_j|^2) - 2 r_i.g_j - eta`` and the scaled true value lies in ``[L, L +
    widen_i + widen_j]`` with ``widen = 2 tol |.|^2 + eta``. ``eta`` bounds what gradual underflow of the
    float32 products and norms may lose (absolutely); with entries in [-1, 1] it is negligible. One tile
    and one mask buffer are allocated per call and reused.
    """

    def __init__(self, rows: PreparedSet, cols: PreparedSet, tile_rows: int, tile_cols: int) -> None:
        self.rows, self.row_norms, self.cols, self.col_norms, self.scale = _common_scale(rows, cols)
        dim = self.rows.shape[1]
        device = self.rows.device
        tol = _error_factor(dim, device)
        eta = 4.0 * (dim + 16) * _FLOAT32_TINY
        self.row_shift = (1.0 - tol) * self.row_norms - eta
        self.col_shift = (1.0 - tol) * self.col_norms
        self.row_widen = 2.0 * tol * self.row_norms + eta
        self.col_widen = 2.0 * tol * self.col_norms + eta
        elements = min(tile_rows, self.rows.shape[0]) * min(tile_cols, self.cols.shape[0])
        self._block = torch.empty(elements, dtype=torch.float32, device=device)
        self._mask = torch.empty(-(-elements // 8) * 8, dtype=torch.bool, device=device)

    def lower(self, r0: int, r1: int, c0: int, c1: int) -> Tensor:
        """The ``(r1 - r0, c1 - c0)`` tile of lower bounds (a view of the shared buffer)."""
        out = self._block[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
        torch.addmm(self.col_shift[c0:c1].unsqueeze(0), self.rows[r0:r1], self.cols[c0:c1].T, alpha=-2.0, out=out)
        out += self.row_shift[r0:r1].unsqueeze(1)
        return out

    def _nonzero(self, lower: Tensor, threshold: Tensor) -> tuple[Tensor, Tensor]:
        """Positions (row, col) with ``lower <= threshold``, scanning the mask eight bytes at a time."""
        numel = lower.numel()
        padded = -(-numel // 8) * 8
        flat = self._mask[:padded]
        torch.le(lower, threshold, out=flat[:numel].view(lower.shape))
        flat[numel:] = False
        words = torch.nonzero(flat.view(torch.int64)).flatten()
        word, byte = torch.nonzero(flat.view(-1, 8).index_select(0, words), as_tuple=True)
        position = words[word] * 8 + byte
        width = lower.shape[1]
        return position // width, position % width

    def rows_below(self, lower: Tensor, threshold: Tensor, row_min: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Positions (i, j) with ``lower[i, j] <= threshold[i]``.

        A row needs a scan only when its minimum passes: with running bounds that is a small share of
        the rows, whose copy is then scanned instead of the whole tile.
        """
        if row_min is None:
            row_min = lower.amin(dim=1)
        hit = torch.nonzero(row_min <= threshold).flatten()
        if 8 * hit.numel() >= lower.shape[0]:
            return self._nonzero(lower, threshold.unsqueeze(1))
        rows, cols = torch.nonzero(lower.index_select(0, hit) <= threshold[hit].unsqueeze(1), as_tuple=True)
        return hit[rows], cols

    def cols_below(self, lower: Tensor, threshold: Tensor, col_min: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Positions (i, j) with ``lower[i, j] <= threshold[j]`` (see ``rows_below``)."""
        if col_min is None:
            col_min = _column_min(lower)
        hit = torch.nonzero(col_min <= threshold).flatten()
        if 8 * hit.numel() >= lower.shape[1]:
            return self._nonzero(lower, threshold.unsqueeze(0))
        rows, cols = torch.nonzero(lower.index_select(1, hit) <= threshold[hit].unsqueeze(0), as_tuple=True)
        return rows, hit[cols]

    def cap(self, exact: Tensor) -> Tensor:
        """float32 thresholds >= the scaled exact squared distances ``exact`` (and never above float32's max)."""
        return _round_up_float32(exact * (self.scale * self.scale)).clamp_(max=_FLOAT32_MAX)


def _top_upper(lower: Tensor, k: int, dim: int, widen_other: Tensor, widen_own: Tensor) -> Tensor:
    """Upper bound on the k-th smallest true value along ``dim`` from any k distinct entries (inf if < k)."""
    if lower.shape[dim] < k:
        return torch.full_like(widen_own, math.inf)
    if dim == 0:  # topk runs several times faster along the contiguous dimension
        lower = lower.T.contiguous()
    top, index = torch.topk(lower, k, dim=1, largest=False, sorted=False)
    return (top + widen_other[index]).amax(dim=1) + widen_own


def _merge_smallest(best: Tensor, points: Tensor, values: Tensor) -> None:
    """Merge ``values`` (one per entry of ``points``) into ``best``, the ascending k smallest per point."""
    if points.numel() == 0:
        return
    k = best.shape[1]
    touched, inverse = torch.unique(points, return_inverse=True)
    merged = torch.cat([best[touched].flatten(), values])
    slot = torch.cat([torch.arange(touched.numel(), device=points.device).repeat_interleave(k), inverse])
    order = torch.argsort(merged, stable=True)
    order = order[torch.argsort(slot[order], stable=True)]
    counts = torch.bincount(slot, minlength=touched.numel())
    first = torch.cumsum(counts, 0) - counts
    best[touched] = merged[order][first.unsqueeze(1) + torch.arange(k, device=points.device)]


def real_knn(real: PreparedSet, k: int, chunk_size: int | None = None) -> Tensor:
    """Exact squared distances from each real sample to its ``k`` nearest *other* real samples.

    Self is excluded by index (a duplicate of r_i counts as a neighbour at distance 0). Each unordered pair
    is bounded once: a tile of rows [r0, r1) x columns [c0, c1) with c0 >= r0 serves its rows and, for
    the columns beyond the row band, its columns too.

    Returns:
        ``(n, k)`` float64, each row ascending.
    """
    n = real.centered.shape[0]
    device = real.centered.device
    band = chunk_size or default_chunk_size(n, n)
    tiles = _Tiles(real, real, band, _TILE)
    best = torch.full((n, k), math.inf, dtype=torch.float64, device=device)
    for r0 in range(0, n, band):
        r1 = min(n, r0 + band)
        for c0 in range(r0, n, _TILE):
            c1 = min(n, c0 + _TILE)
            lower = tiles.lower(r0, r1, c0, c1)
            lo, hi = max(r0, c0), min(r1, c1)
            if lo < hi:  # self excluded by index
                lower[lo - r0 : hi - r0, lo - c0 : hi - c0].diagonal().fill_(math.inf)
            # Rows: whatever bounds their k-th distance so far; a tile's own top-k while that is unknown.
            row_cap = tiles.cap(best[r0:r1, k - 1])
            if bool(torch.isinf(best[r0:r1, k - 1]).any()):
                top = _top_upper(lower, k, 1, tiles.col_widen[c0:c1], tiles.row_widen[r0:r1])
                row_cap = torch.minimum(row_cap, top.clamp(max=_FLOAT32_MAX))
            row_i, row_j = tiles.rows_below(lower, row_cap)
            # Columns beyond the row band (pairs inside the band are its rows' business only).
            s0 = max(c0, r1)
            if s0 < c1:
                side = lower[:, s0 - c0 :]
                col_cap = tiles.cap(best[s0:c1, k - 1])
                if bool(torch.isinf(best[s0:c1, k - 1]).any()):
                    top = _top_upper(side, k, 0, tiles.row_widen[r0:r1], tiles.col_widen[s0:c1])
                    col_cap = torch.minimum(col_cap, top.clamp(max=_FLOAT32_MAX))
                col_i, col_j = tiles.cols_below(side, col_cap)
                col_j = col_j + (s0 - c0)
            else:
                col_i = col_j = row_i.new_empty(0)
            num_row = row_i.numel()
            i = torch.cat([row_i, col_i]) + r0
            j = torch.cat([row_j, col_j]) + c0
            exact = _pair_distances(real.data, i, real.data, j)
            _merge_smallest(best, torch.cat([i[:num_row], j[num_row:]]), exact)
    return best


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


def _merge_nearest(best: Tensor, best_index: Tensor, start: int, candidate: Tensor, index: Tensor) -> None:
    """best[start:start + len] <- candidate where strictly smaller (an equal distance keeps the earlier index)."""
    stop = start + candidate.numel()
    better = candidate < best[start:stop]
    best[start:stop] = torch.where(better, candidate, best[start:stop])
    best_index[start:stop] = torch.where(better, index, best_index[start:stop])


def cross_nearest(real: PreparedSet, synthetic: PreparedSet, chunk_size: int | None = None) -> CrossNeighbors:
    """One pass over the real x synthetic tiles gives both nearest-neighbour directions, exactly.

    For each real r_i: j*(i) = argmin_j ||r_i - g_j||; for each synthetic g_j: i*(j) = argmin_i. Ties go
    to the smallest index: tiles are visited in increasing row and column order, and a later tile only
    replaces a strictly smaller distance.
    """
    n = real.centered.shape[0]
    m = synthetic.centered.shape[0]
    device = real.centered.device
    band = chunk_size or default_chunk_size(n, m)
    tiles = _Tiles(real, synthetic, band, _TILE)
    r2s = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    r2s_index = torch.full((n,), -1, dtype=torch.int64, device=device)
    s2r = torch.full((m,), math.inf, dtype=torch.float64, device=device)
    s2r_index = torch.full((m,), -1, dtype=torch.int64, device=device)
    for r0 in range(0, n, band):
        r1 = min(n, r0 + band)
        for c0 in range(0, m, _TILE):
            c1 = min(m, c0 + _TILE)
            lower = tiles.lower(r0, r1, c0, c1)
            # A row (column) can only improve on the exact best of earlier tiles; in its first tile, the
            # tile's smallest lower bound widened by the largest half-width bounds its minimum instead.
            if c0 == 0:
                row_min = lower.amin(dim=1)
                row_cap = (row_min + (tiles.row_widen[r0:r1] + tiles.col_widen[c0:c1].max())).clamp_(max=_FLOAT32_MAX)
                row_i, row_j = tiles.rows_below(lower, row_cap, row_min)
            else:
                row_i, row_j = tiles.rows_below(lower, tiles.cap(r2s[r0:r1]))
            if r0 == 0:
                col_min = _column_min(lower)
                col_cap = (col_min + (tiles.col_widen[c0:c1] + tiles.row_widen[r0:r1].max())).clamp_(max=_FLOAT32_MAX)
                col_i, col_j = tiles.cols_below(lower, col_cap, col_min)
            else:
                col_i, col_j = tiles.cols_below(lower, tiles.cap(s2r[c0:c1]))
            num_row = row_i.numel()
            exact = _pair_distances(
                real.data, torch.cat([row_i, col_i]) + r0, synthetic.data, torch.cat([row_j, col_j]) + c0
            )
            best, best_col = _segment_argmin(row_i, exact[:num_row], row_j + c0, r1 - r0)
            _merge_nearest(r2s, r2s_index, r0, best, best_col)
            best, best_row = _segment_argmin(col_j, exact[num_row:], col_i + r0, c1 - c0)
            _merge_nearest(s2r, s2r_index, c0, best, best_row)
    return CrossNeighbors(r2s, r2s_index, s2r, s2r_index)

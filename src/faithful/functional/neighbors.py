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

import copy
import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from faithful.functional import _blocks, _kernels, _parallel

__all__ = [
    "CrossNeighbors",
    "PreparedSet",
    "cross_nearest",
    "default_chunk_size",
    "prepare",
    "real_knn",
    "squared_distances",
]

# Rows of one band and columns of one tile of the distance matrix: 512 x 2048 float32 is 4 MB, which keeps the
# row and column minima and the candidate scans close to the cache, and is still a matrix product large enough to
# run at full speed.
_BAND = 512
_TILE = 2048
# Up to this depth of the matrix product (d + 2) a compiled loop computes the tiles: faster than the BLAS there
# (``_kernels.small_product``; measured 0.41 against 0.87 ms at depth 10, level at 18).
_SMALL_DEPTH = 14
_WIDE_DIM = 256
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


def default_chunk_size(num_rows: int, num_cols: int, workers: int = 1, dim: int = 0) -> int:
    """Rows of one tile when ``chunk_size`` is not given (tiles are at most ``_TILE`` columns wide).

    With several worker threads, at least one row band per worker (small sets are shared too). From
    ``_WIDE_DIM`` features on the matrix product dominates: square tiles make the most of each packed panel.
    """
    del num_cols  # the tile width is fixed, so the default does not depend on it
    band = _TILE if dim >= _WIDE_DIM else _BAND
    return max(1, min(num_rows, band, _TILE, -(-num_rows // max(1, workers))))


def _available_workers(device: torch.device, workers: int | None) -> int:
    """Worker threads for a search on ``device``: the CPU's available threads, one thread for a GPU."""
    if device.type != "cpu":
        return 1
    return workers or _parallel.available_threads()


def _row_step(num_cols: int) -> int:
    return max(1, _ROW_ELEMENTS // max(1, num_cols))


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
    step = _row_step(dim)
    work = torch.empty(min(step, num), dim, dtype=torch.float64, device=data.device)
    for s in range(0, num, step):
        rows = slice(s, s + step)
        shifted = work[: min(step, num - s)]
        shifted.copy_(data[rows])
        shifted -= origin
        if scale != 1.0:
            shifted *= scale  # exact: a power of two
        centered[rows] = shifted
    return PreparedSet(data, centered, _sq_norms(centered, work), scale)


def _sq_norms(centered: Tensor, work: Tensor | None = None) -> Tensor:
    """Squared norms of float32 rows, computed in float64 (``work``: an optional float64 row buffer)."""
    num, dim = centered.shape
    step = _row_step(dim)
    if work is None:
        work = torch.empty(min(step, num), dim, dtype=torch.float64, device=centered.device)
    out = torch.empty(num, dtype=torch.float32, device=centered.device)
    for s in range(0, num, step):
        rows = slice(s, s + step)
        squares = work[: min(step, num - s)]
        squares.copy_(centered[rows])
        out[rows] = squares.square_().sum(dim=1)
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


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """Exact (float64, direct differences) squared distances between matching rows of ``a`` and ``b``."""
    num, dim = a.shape
    out = torch.empty(num, dtype=torch.float64, device=a.device)
    step = max(1, _PAIR_ELEMENTS // max(1, dim))
    # One working buffer for all batches: fresh multi-megabyte temporaries are page-faulted in every time.
    work = torch.empty(min(step, num), dim, dtype=torch.float64, device=a.device)
    for s in range(0, num, step):
        diff = work[: min(step, num - s)]
        diff.copy_(a[s : s + step])
        diff -= b[s : s + step]
        diff *= diff
        out[s : s + step] = _tree_sum_(diff)
    return out


def _pair_distances(a: Tensor, a_index: Tensor, b: Tensor, b_index: Tensor) -> Tensor:
    """Exact squared distances for the pairs (a[a_index[p]], b[b_index[p]]), in cache-sized batches.

    On the CPU with numba, one compiled pass (the same bits: :func:`faithful.functional._kernels.pair_distances`).
    """
    if (
        _kernels.AVAILABLE
        and a.device.type == "cpu"
        and a.dtype in _kernels.FLOAT_DTYPES
        and b.dtype in _kernels.FLOAT_DTYPES
    ):
        return _kernels.pair_distances(a, a_index, b, b_index)
    num_pairs = a_index.numel()
    dim = a.shape[1]
    out = torch.empty(num_pairs, dtype=torch.float64, device=a.device)
    step = max(1, _PAIR_ELEMENTS // max(1, dim))
    rows = min(step, num_pairs)
    left = torch.empty(rows, dim, dtype=a.dtype, device=a.device)
    right = torch.empty(rows, dim, dtype=b.dtype, device=a.device)
    work = torch.empty(rows, dim, dtype=torch.float64, device=a.device)
    for s in range(0, num_pairs, step):
        size = min(step, num_pairs - s)
        torch.index_select(a, 0, a_index[s : s + size], out=left[:size])
        torch.index_select(b, 0, b_index[s : s + size], out=right[:size])
        diff = work[:size]
        diff.copy_(left[:size])
        diff -= right[:size]
        diff *= diff
        out[s : s + size] = _tree_sum_(diff)
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

    Worst-case accumulation of the extended dot product ((d + 2) u, over terms summing to at most
    2 (|a|^2 + |b|^2)), input rounding to float32 (4u), the norms' own rounding (2u): under (d + 6) u per unit of
    2 (|a|^2 + |b|^2), so (d + 16) u doubled leaves a wide margin. It only widens the candidate filter. The
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

    ``L = (1 - tol)(|r_i|^2 + |g_j|^2) - 2 r_i.g_j - eta`` (one float32 matrix product of the coordinates
    extended by the shifts) and the scaled true value lies in ``[L, L + widen_i + widen_j]`` with ``widen = 2 tol
    |.|^2 + eta``. ``eta`` bounds what gradual underflow of the float32 products and norms may lose
    (absolutely); with entries in [-1, 1] it is negligible. One tile and one mask buffer are allocated per
    worker and reused.
    """

    def __init__(self, rows: PreparedSet, cols: PreparedSet, tile_rows: int, tile_cols: int) -> None:
        self.rows, row_norms, self.cols, col_norms, self.scale = _common_scale(rows, cols)
        dim = self.rows.shape[1]
        tol = _error_factor(dim, self.rows.device)
        eta = 4.0 * (dim + 16) * _FLOAT32_TINY
        self.row_widen = 2.0 * tol * row_norms + eta
        self.col_widen = 2.0 * tol * col_norms + eta
        # The shifts ride in the matrix product as two extra coordinates, [r, 1, s_r] . [-2 g, s_g, 1], so a tile
        # is one GEMM and no elementwise pass. Scaling by -2 is exact; the two extra terms add a few roundings of
        # |r|^2 + |g|^2 to the dot product's error, inside ``tol`` (see ``_error_factor``).
        ones = torch.ones_like(row_norms).unsqueeze(1)
        self.row_factors = torch.cat([self.rows, ones, ((1.0 - tol) * row_norms - eta).unsqueeze(1)], dim=1)
        ones = torch.ones_like(col_norms).unsqueeze(1)
        self.col_factors = torch.cat([-2.0 * self.cols, ((1.0 - tol) * col_norms).unsqueeze(1), ones], dim=1)
        self.col_factors = self.col_factors.T.contiguous()  # (d + 2, m): the product reads it row by row
        # A band's block against itself (``real_knn``) is band x band: room for that too.
        self.width = min(max(tile_cols, tile_rows), self.cols.shape[0])
        self.elements = min(tile_rows, self.rows.shape[0]) * self.width
        # The compiled filter (numba) where it can run: on the CPU.
        self.compiled = _kernels.AVAILABLE and self.rows.device.type == "cpu"
        self._allocate()

    def _allocate(self) -> None:
        elements, device = self.elements, self.rows.device
        self._block = torch.empty(elements, dtype=torch.float32, device=device)
        # int8, not bool: torch writes a comparison into int8 several times faster than into bool on the CPU.
        self._mask = torch.empty(-(-elements // 8) * 8, dtype=torch.int8, device=device)
        self._rows_hit = torch.empty(elements, dtype=torch.float32, device=device)
        self._col_caps = torch.empty(self.width, dtype=torch.float32, device=device)

    def scratch(self) -> _Tiles:
        """The same bounds with buffers of its own (one per worker thread)."""
        other = copy.copy(self)
        other._allocate()
        return other

    def lower(self, r0: int, r1: int, c0: int, c1: int) -> Tensor:
        """The ``(r1 - r0, c1 - c0)`` tile of lower bounds (a view of the worker's buffer)."""
        out = self._block[: (r1 - r0) * (c1 - c0)].view(r1 - r0, c1 - c0)
        if self.compiled and self.row_factors.shape[1] <= _SMALL_DEPTH:
            _kernels.small_product(self.row_factors, self.col_factors, (r0, r1, c0, c1), out)
            return out
        return torch.mm(self.row_factors[r0:r1], self.col_factors[:, c0:c1], out=out)

    def _nonzero(self, lower: Tensor, threshold: Tensor) -> tuple[Tensor, Tensor]:
        """Positions (row, col) with ``lower <= threshold``, scanning the mask eight bytes at a time."""
        numel = lower.numel()
        padded = -(-numel // 8) * 8
        flat = self._mask[:padded]
        torch.le(lower, threshold, out=flat[:numel].view(lower.shape))
        flat[numel:] = 0
        words = torch.nonzero(flat.view(torch.int64)).flatten()
        word, byte = torch.nonzero(flat.view(-1, 8).index_select(0, words), as_tuple=True)
        position = words[word] * 8 + byte
        width = lower.shape[1]
        return position // width, position % width

    def rows_below(self, lower: Tensor, threshold: Tensor, row_min: Tensor) -> tuple[Tensor, Tensor]:
        """Positions (i, j) with ``lower[i, j] <= threshold[i]`` (``row_min``: the rows' minima).

        A row needs a scan only when its minimum passes: with running bounds that is often a small share
        of the rows, and then only their copy is scanned.
        """
        hit = torch.nonzero(row_min <= threshold).flatten()
        if 2 * hit.numel() >= lower.shape[0]:
            return self._nonzero(lower, threshold.unsqueeze(1))
        sub = self._rows_hit[: hit.numel() * lower.shape[1]].view(hit.numel(), lower.shape[1])
        rows, cols = self._nonzero(torch.index_select(lower, 0, hit, out=sub), threshold[hit].unsqueeze(1))
        return hit[rows], cols

    def cols_below(self, lower: Tensor, threshold: Tensor, col_min: Tensor) -> tuple[Tensor, Tensor]:
        """Positions (i, j) with ``lower[i, j] <= threshold[j]`` (see ``rows_below``)."""
        hit = torch.nonzero(col_min <= threshold).flatten()
        if 2 * hit.numel() >= lower.shape[1]:
            return self._nonzero(lower, threshold.unsqueeze(0))
        sub = self._rows_hit[: lower.shape[0] * hit.numel()].view(lower.shape[0], hit.numel())
        rows, cols = self._nonzero(torch.index_select(lower, 1, hit, out=sub), threshold[hit].unsqueeze(0))
        return rows, hit[cols]

    def below(
        self, lower: Tensor, row_cap: Tensor, col_cap: Tensor | None = None, col_start: int = 0
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Candidates of a tile, in tile coordinates: ``(row_i, row_j)`` with ``lower[i, j] <= row_cap[i]``, and
        ``(col_i, col_j)`` with ``lower[i, j] <= col_cap[j - col_start]`` for the columns from ``col_start`` on
        (none without ``col_cap``)."""
        width = lower.shape[1]
        if self.compiled:
            caps = self._col_caps[:width]
            caps[:col_start] = -math.inf  # never a candidate
            if col_cap is None:
                caps[col_start:] = -math.inf
            else:
                caps[col_start:] = col_cap
            return _kernels.below(lower, row_cap, caps)
        row_i, row_j = self.rows_below(lower, row_cap, lower.amin(dim=1))
        if col_cap is None or col_start >= width:
            return row_i, row_j, row_i[:0], row_j[:0]
        side = lower[:, col_start:]
        col_i, col_j = self.cols_below(side, col_cap, _column_min(side))
        return row_i, row_j, col_i, col_j + col_start

    def row_bounds(self, lower: Tensor, r0: int, c0: int) -> Tensor:
        """Upper bounds on the nearest distance of the tile's rows: each row's minimum, widened by its half-width
        and the tile's largest column half-width (float32, at most float32's max)."""
        widest = self.col_widen[c0 : c0 + lower.shape[1]].max()
        return (lower.amin(dim=1) + (self.row_widen[r0 : r0 + lower.shape[0]] + widest)).clamp_(max=_FLOAT32_MAX)

    def col_bounds(self, lower: Tensor, r0: int, c0: int) -> Tensor:
        """The same for the tile's columns."""
        widest = self.row_widen[r0 : r0 + lower.shape[0]].max()
        return (_column_min(lower) + (self.col_widen[c0 : c0 + lower.shape[1]] + widest)).clamp_(max=_FLOAT32_MAX)

    def cap(self, exact: Tensor) -> Tensor:
        """float32 thresholds >= the scaled exact squared distances ``exact`` (and never above float32's max)."""
        return _round_up_float32(exact * (self.scale * self.scale)).clamp_(max=_FLOAT32_MAX)


def _groups_upper(lower: Tensor, k: int, dim: int, widen_other: Tensor, widen_own: Tensor) -> Tensor:
    """Upper bound on the k-th smallest true value along ``dim``: the largest of the minima of k groups.

    Any k distinct entries bound the k-th smallest from above; the minima of k groups are nearly as good as the
    k smallest and far cheaper than ``topk``. The groups interleave blocks of entries (block b in group b mod k):
    in spatial order consecutive entries are near each other, and k groups of consecutive entries would put a
    point's neighbours in one group and leave the others far. Blocks of 64 keep the reductions contiguous.
    Entries of +inf (self) never matter: a group holds at least two entries. Returns +inf where there are fewer
    than 2k entries.
    """
    size = lower.shape[dim]
    if size < 2 * k:
        return torch.full_like(widen_own, math.inf)
    block = next(b for b in (64, 16, 4, 1) if size >= 2 * k * b)
    rounds = size // (k * block)
    used = rounds * k * block
    shaped = lower.narrow(dim, 0, used).unflatten(dim, (rounds, k, block))
    shaped = shaped.amin(dim=dim + 2) if block > 1 else shaped.squeeze(dim + 2)
    minima = shaped.amin(dim=dim)  # one minimum per group: (rows, k) or (k, columns)
    widest = widen_other[:used].view(rounds, k, block).amax(dim=2).amax(dim=0)
    widest = widest.unsqueeze(0) if dim == 1 else widest.unsqueeze(1)
    return (minima + widest).amax(dim=dim) + widen_own


def _merge_smallest(best: Tensor, points: Tensor, values: Tensor) -> None:
    """Merge ``values`` (one per entry of ``points``) into ``best``, the ascending k smallest per point."""
    if points.numel() == 0:
        return
    if _kernels.AVAILABLE and best.device.type == "cpu" and best.is_contiguous():
        _kernels.merge_smallest(best, points, values)
        return
    k = best.shape[1]
    device = points.device
    order = torch.argsort(points, stable=True)
    points, values = points[order], values[order]
    touched, counts = torch.unique_consecutive(points, return_counts=True)
    slot = torch.arange(touched.numel(), device=device).repeat_interleave(counts)
    width = int(counts.max())
    if touched.numel() * width <= 4 * points.numel() + 4096:
        # A few new values per point: sort each point's row of (k old + its new) values.
        first = torch.cumsum(counts, 0) - counts
        rank = torch.arange(points.numel(), device=device) - first[slot]
        table = torch.full((touched.numel(), k + width), math.inf, dtype=best.dtype, device=device)
        table[:, :k] = best[touched]
        table[slot, k + rank] = values
        best[touched] = torch.sort(table, dim=1).values[:, :k]
        return
    # Many values for some points (ties): one sort of all values by (point, value).
    slot = torch.cat([torch.arange(touched.numel(), device=device).repeat_interleave(k), slot])
    merged = torch.cat([best[touched].flatten(), values])
    order = torch.argsort(merged, stable=True)
    order = order[torch.argsort(slot[order], stable=True)]
    first = torch.cumsum(counts + k, 0) - (counts + k)
    best[touched] = merged[order][first.unsqueeze(1) + torch.arange(k, device=device)]


class _Store:
    """Candidate pairs (point, other, lower bound), kept until the exact re-check.

    The float32 bounds of later tiles keep tightening, so most candidates collected on the way are
    dropped before any exact distance is computed for them.
    """

    def __init__(self, device: torch.device) -> None:
        self._parts: list[tuple[Tensor, Tensor, Tensor]] = []
        self._empty = torch.empty(0, dtype=torch.int64, device=device)
        self.size = 0

    def add(self, point: Tensor, other: Tensor, lower: Tensor) -> None:
        if point.numel():
            self._parts.append((point, other, lower))
            self.size += point.numel()

    def prune(self, cap: Tensor) -> None:
        """Drop the pairs whose lower bound exceeds their point's current bound."""
        if self._parts:
            point, other, lower = (torch.cat(part) for part in zip(*self._parts, strict=True))
            keep = lower <= cap[point]
            self._parts = [(point[keep], other[keep], lower[keep])]
            self.size = self._parts[0][0].numel()

    def take(self, cap: Tensor) -> tuple[Tensor, Tensor]:
        """(point, other) of the pairs still within ``cap``; the store is emptied."""
        self.prune(cap)
        if not self._parts:
            return self._empty, self._empty
        point, other, _ = self._parts[0]
        self._parts = []
        self.size = 0
        return point, other


def _row_share(rows: slice | None, n: int) -> tuple[int, int]:
    start, stop, step = (rows or slice(0, n)).indices(n)
    if step != 1:
        raise ValueError(f"Expected argument `rows` to be a contiguous slice (step 1), but got {rows!r}.")
    return start, max(start, stop)


def part_of(pieces: list[int], costs: list[float], part: tuple[int, int] | None) -> list[int]:
    """The pieces of part ``index`` of ``count`` (``part``), balanced by cost; all of them when ``part`` is None.

    Greedy: the costliest piece first, each to the part with the least cost so far (ties: the lowest part).
    Every process computes the same assignment, so together the parts hold every piece exactly once.
    """
    if part is None:
        return pieces
    index, count = part
    load = [0.0] * count
    mine = []
    for piece, cost in sorted(zip(pieces, costs, strict=True), key=lambda item: (-item[1], item[0])):
        owner = min(range(count), key=lambda p: (load[p], p))
        load[owner] += cost
        if owner == index:
            mine.append(piece)
    return sorted(mine)


def _check_part(part: tuple[int, int] | None, rows: slice | None = None) -> None:
    if part is None:
        return
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"Expected argument `part` to be (index, count) with 0 <= index < count, but got {part!r}.")
    if rows is not None:
        raise ValueError("Expected either `rows` or `part`, not both: a part shares the symmetric search's bands.")


def merge_knn(parts: list[Tensor], k: int) -> Tensor:
    """The k smallest per row of several partial ``(n, k)`` results (each row ascending, +inf where none)."""
    if len(parts) == 1:
        return parts[0]
    return torch.cat(parts, dim=1).sort(dim=1).values[:, :k].contiguous()


def merge_cross(parts: list[CrossNeighbors]) -> CrossNeighbors:
    """Both directions of several partial searches: the smaller distance, ties to the smaller index."""
    r2s, r2s_index, s2r, s2r_index = (t.clone() for t in parts[0])
    for part in parts[1:]:
        _merge_nearest(r2s, r2s_index, part.real_to_synthetic, part.real_to_synthetic_index)
        _merge_nearest(s2r, s2r_index, part.synthetic_to_real, part.synthetic_to_real_index)
    return CrossNeighbors(r2s, r2s_index, s2r, s2r_index)


class _Plan(NamedTuple):
    """How a search visits its tiles: the bands' row starts, and (CPU) the geometry that orders and skips tiles."""

    band: int
    bands: list[int]
    layout: _blocks.Layout | None  #: None: columns in index order, no tile skipped (off the CPU)
    num_cols: int

    def tiles(self, r0: int, c_begin: int) -> list[tuple[int, int, float]]:
        """The band's tiles ``(c0, c1, gap)`` from column ``c_begin`` on, nearest first."""
        grid = range(c_begin // _TILE, -(-self.num_cols // _TILE))
        if self.layout is None:
            return [(max(t * _TILE, c_begin), min(self.num_cols, (t + 1) * _TILE), 0.0) for t in grid]
        band = self.layout.band_of[r0]
        centers, gaps = self.layout.centers[band], self.layout.gaps[band]
        order = sorted(grid, key=lambda t: (centers[t], t))
        return [(max(t * _TILE, c_begin), min(self.num_cols, (t + 1) * _TILE), gaps[t]) for t in order]


def _spatial(prepared: PreparedSet, ordered: bool) -> tuple[PreparedSet, Tensor | None]:
    """The set in spatial order (a permuted copy) and the order, or the set itself and None."""
    if not ordered:
        return prepared, None
    order = _blocks.spatial_order(prepared.centered)
    permuted = PreparedSet(prepared.data[order], prepared.centered[order], prepared.sq_norms[order], prepared.scale)
    return permuted, order


def _orders(prepared: PreparedSet) -> bool:
    """Whether to search in spatial order: on the CPU below ``_WIDE_DIM`` features. Beyond, the matrix product
    dominates whatever the order, and the band's own block (``_neighbourhood_caps``) would cost a product more."""
    return prepared.centered.device.type == "cpu" and prepared.centered.shape[1] < _WIDE_DIM


def _plan(tiles: _Tiles, band: int, bands: list[int], ordered: bool) -> _Plan:
    layout = _blocks.layout(tiles.rows, tiles.cols, bands, band, _TILE) if ordered else None
    return _Plan(band, bands, layout, tiles.cols.shape[0])


def _unpermute(x: Tensor, order: Tensor | None) -> Tensor:
    """Rows of ``x`` (in spatial order) back in the caller's order."""
    if order is None:
        return x
    out = torch.empty_like(x)
    out[order] = x
    return out


def real_knn(
    real: PreparedSet,
    k: int,
    chunk_size: int | None = None,
    rows: slice | None = None,
    workers: int | None = None,
    part: tuple[int, int] | None = None,
) -> Tensor:
    """Exact squared distances from each real sample to its ``k`` nearest *other* real samples.

    Self is excluded by index (a duplicate of r_i counts as a neighbour at distance 0). Each unordered pair
    is bounded once: a tile of rows [r0, r1) x columns [c0, c1) with c0 >= r0 serves its rows and, for
    the columns beyond the row band, its columns too. Per sample, the k smallest float32 upper bounds seen
    so far bound its k-th distance; only the pairs within that bound at the end are re-checked exactly.
    On the CPU the set is searched in spatial order (:mod:`faithful.functional._blocks`): a band's tiles
    nearest first, and a tile skipped when no pair in it can be within the bounds of its rows and columns.

    Row bands are shared among ``workers`` threads (default: torch's thread count), each with its own running
    bounds and one intra-op thread; their exact k smallest are merged at the end.

    Args:
        real: the prepared real set.
        k: neighbours per sample.
        chunk_size: rows per band (default ``default_chunk_size``).
        rows: only the rows of this contiguous share of the samples (against all of them; self is still
            excluded by its global index). ``None``: all rows, using the symmetry.
        workers: worker threads (CPU only); ``None``: ``torch.get_num_threads()``.
        part: ``(index, count)``: only this part's share of the symmetric search's row bands (balanced by their
            cost), for sharing the search among processes. Every row then holds the k smallest distances over
            the pairs this part saw (+inf where fewer): :func:`merge_knn` of all parts gives the full result.

    Returns:
        ``(num_rows, k)`` float64, each row ascending (with ``part``: ``(n, k)`` partial).
    """
    _check_part(part, rows)
    n = real.centered.shape[0]
    start, stop = _row_share(rows, n)
    # Using the symmetry needs every row; a share compares its rows with all columns (in the caller's order).
    symmetric = (start, stop) == (0, n)
    device = real.centered.device
    real, order = _spatial(real, symmetric and _orders(real))
    workers = _available_workers(device, workers)
    pieces = workers * (part[1] if part is not None else 1)  # enough bands for every worker of every part
    band = chunk_size or default_chunk_size(stop - start, n, pieces, real.centered.shape[1])
    tiles = _Tiles(real, real, band, _TILE)
    bands = list(range(start, stop, band))
    plan = _plan(tiles, band, bands, order is not None)
    # A band of the symmetric search pairs its rows with every column from its first row on.
    mine = part_of(bands, [float(min(band, n - b) * (n - b if symmetric else n)) for b in bands], part)
    initial = None
    if order is not None:  # every band's bounds from its own neighbourhood, before any band looks further
        initial = torch.full((n,), _FLOAT32_MAX, dtype=torch.float32, device=device)
        _parallel.map_pieces(
            lambda take: _neighbourhood_caps(tiles.scratch(), k, plan.band, initial, take),
            bands,
            _parallel.num_workers(len(bands), workers),
            device,
        )
    bests = _parallel.map_pieces(
        lambda take: _knn_worker(real, k, tiles.scratch(), plan, (start, stop), symmetric, initial, take),
        mine,
        _parallel.num_workers(len(mine), workers),
        device,
    )
    # Each worker saw other pairs: the k smallest of their k smallest.
    return _unpermute(merge_knn([b[start:stop] for b in bests], k), order)


def _neighbourhood_caps(tiles: _Tiles, k: int, band: int, out: Tensor, take: Callable[[], int | None]) -> None:
    """Bounds on the k-th distance of each row of the bands taken, from the band's own rows (written to ``out``).

    In spatial order a band is a neighbourhood: its k nearest members are nearly the k nearest overall. Without
    these bounds the symmetric search would meet a column first from far bands, with a loose bound and many
    candidates.
    """
    while (r0 := take()) is not None:
        r1 = min(out.shape[0], r0 + band)
        lower = tiles.lower(r0, r1, r0, r1)
        lower.diagonal().fill_(math.inf)
        top = _groups_upper(lower, k, 1, tiles.col_widen[r0:r1], tiles.row_widen[r0:r1])
        out[r0:r1] = top.clamp_(max=_FLOAT32_MAX)


def _knn_worker(
    real: PreparedSet,
    k: int,
    tiles: _Tiles,
    plan: _Plan,
    share: tuple[int, int],
    symmetric: bool,
    initial: Tensor | None,
    take: Callable[[], int | None],
) -> Tensor:
    """The k smallest exact distances over the pairs of the row bands this worker takes (``(n, k)``).

    ``initial``: bounds on each row's k-th distance to start from (else none).
    """
    n = real.centered.shape[0]
    device = real.centered.device
    upper = torch.full((n, k), math.inf, dtype=torch.float32, device=device)  # k smallest upper bounds
    best = torch.full((n, k), math.inf, dtype=torch.float64, device=device)  # k smallest exact distances
    cap = initial.clone() if initial is not None else torch.full((n,), _FLOAT32_MAX, dtype=torch.float32, device=device)
    store = _Store(device)
    budget = tiles.elements + 8 * (share[1] - share[0] if not symmetric else n) * k

    def resolve() -> None:
        point, other = store.take(cap)
        _merge_smallest(best, point, _pair_distances(real.data, point, real.data, other))
        torch.minimum(cap, tiles.cap(best[:, k - 1]), out=cap)

    while (r0 := take()) is not None:
        r1 = min(share[1], r0 + plan.band)
        for c0, c1, gap in plan.tiles(r0, r0 if symmetric else 0):
            # Columns beyond the row band (pairs inside the band are its rows' business only).
            s0 = max(c0, r1) if symmetric else c1
            # No pair of the tile can be within its rows' bounds nor its columns': nothing to learn from it.
            if gap > float(cap[r0:r1].max()) and (s0 >= c1 or gap > float(cap[s0:c1].max())):
                continue
            lower = tiles.lower(r0, r1, c0, c1)
            lo, hi = max(r0, c0), min(r1, c1)
            if lo < hi:  # self excluded by index
                lower[lo - r0 : hi - r0, lo - c0 : hi - c0].diagonal().fill_(math.inf)
            # Rows: the bound on their k-th distance so far; the tile's own top-k while there is none.
            row_cap = cap[r0:r1]
            if bool((row_cap >= _FLOAT32_MAX).any()):
                top = _groups_upper(lower, k, 1, tiles.col_widen[c0:c1], tiles.row_widen[r0:r1])
                row_cap = torch.minimum(row_cap, top.clamp(max=_FLOAT32_MAX))
            col_cap = None
            if s0 < c1:
                col_cap = cap[s0:c1]
                if bool((col_cap >= _FLOAT32_MAX).any()):
                    side = lower[:, s0 - c0 :]
                    top = _groups_upper(side, k, 0, tiles.row_widen[r0:r1], tiles.col_widen[s0:c1])
                    col_cap = torch.minimum(col_cap, top.clamp(max=_FLOAT32_MAX))
            row_i, row_j, col_i, col_j = tiles.below(lower, row_cap, col_cap, s0 - c0)
            point = torch.cat([row_i + r0, col_j + c0])
            other = torch.cat([row_j + c0, col_i + r0])
            value = torch.cat([lower[row_i, row_j], lower[col_i, col_j]])
            if point.numel() == 0:
                continue
            _merge_smallest(upper, point, value + tiles.row_widen[point] + tiles.col_widen[other])
            cap[point] = torch.minimum(cap[point], upper[point, k - 1].clamp(max=_FLOAT32_MAX))
            store.add(point, other, value)
            if store.size > budget:
                store.prune(cap)
                if 2 * store.size > budget:
                    resolve()
    resolve()
    return best


def _nearest_per_point(point: Tensor, value: Tensor, other: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Per point the minimum ``value`` and, among equal minima, the smallest ``other``; (+inf, -1) if none."""
    best = torch.full((size,), math.inf, dtype=value.dtype, device=value.device)
    best.scatter_reduce_(0, point, value, reduce="amin")
    is_best = value == best[point]
    big = torch.iinfo(torch.int64).max
    best_index = torch.full((size,), big, dtype=torch.int64, device=value.device)
    best_index.scatter_reduce_(0, point[is_best], other[is_best], reduce="amin")
    best_index[best_index == big] = -1
    return best, best_index


def _merge_nearest(best: Tensor, best_index: Tensor, candidate: Tensor, index: Tensor) -> None:
    """Keep the smaller distance and, for equal distances, the smaller index (in place)."""
    better = (candidate < best) | ((candidate == best) & (index >= 0) & ((index < best_index) | (best_index < 0)))
    best.copy_(torch.where(better, candidate, best))
    best_index.copy_(torch.where(better, index, best_index))


def cross_nearest(
    real: PreparedSet,
    synthetic: PreparedSet,
    chunk_size: int | None = None,
    workers: int | None = None,
    part: tuple[int, int] | None = None,
) -> CrossNeighbors:
    """One pass over the real x synthetic tiles gives both nearest-neighbour directions, exactly.

    For each real r_i: j*(i) = argmin_j ||r_i - g_j||; for each synthetic g_j: i*(j) = argmin_i. Ties go
    to the smallest index. The smallest float32 upper bound seen so far bounds each row's (column's)
    minimum; so does a tile's smallest lower bound widened by the largest half-width. On the CPU both sets are
    searched in spatial order, a band's tiles nearest first, skipping the tiles that cannot improve a bound.
    Row bands are shared among ``workers`` threads (see ``real_knn``), whose answers are merged at the end.
    With ``part=(index, count)`` only that part's share of the row bands is searched: the real rows it did not
    search stay at (+inf, -1) and the synthetic rows hold their nearest among its real rows; :func:`merge_cross`
    of all parts gives the full result.
    """
    _check_part(part)
    n = real.centered.shape[0]
    device = real.centered.device
    ordered = _orders(real)
    real, real_order = _spatial(real, ordered)
    synthetic, synthetic_order = _spatial(synthetic, ordered)
    workers = _available_workers(device, workers)
    pieces = workers * (part[1] if part is not None else 1)  # enough bands for every worker of every part
    band = chunk_size or default_chunk_size(n, synthetic.centered.shape[0], pieces, real.centered.shape[1])
    tiles = _Tiles(real, synthetic, band, _TILE)
    bands = list(range(0, n, band))
    plan = _plan(tiles, band, bands, ordered)
    mine = part_of(bands, [float(min(band, n - b)) for b in bands], part)
    initial = _nearest_caps(tiles, plan, workers) if plan.layout is not None else None
    parts = _parallel.map_pieces(
        lambda take: _cross_worker(
            real, synthetic, tiles.scratch(), plan, (real_order, synthetic_order), initial, take
        ),
        mine,
        _parallel.num_workers(len(mine), workers),
        device,
    )
    r2s, r2s_index, s2r, s2r_index = parts[0] if len(parts) == 1 else merge_cross(parts)
    return CrossNeighbors(
        _unpermute(r2s, real_order),
        _unpermute(r2s_index, real_order),
        _unpermute(s2r, synthetic_order),
        _unpermute(s2r_index, synthetic_order),
    )


def _nearest_caps(tiles: _Tiles, plan: _Plan, workers: int) -> tuple[Tensor, Tensor]:
    """Bounds on every row's and column's nearest distance before the search: each band against its nearest tile
    and each tile against its nearest band (by the balls' centres), minima widened by the largest half-width.

    Without them a worker meets a column first from whatever band it takes first, with a loose bound: more
    candidates, and no tile can be skipped until the column's own neighbourhood has come by.
    """
    assert plan.layout is not None
    centers = plan.layout.centers
    nearest_tile = [min(range(len(row)), key=row.__getitem__) for row in centers]
    by_tile = list(zip(*centers, strict=True))  # (tiles, bands)
    nearest_band = [min(range(len(column)), key=column.__getitem__) for column in by_tile]
    pairs = sorted({(b, t) for b, t in enumerate(nearest_tile)} | {(b, t) for t, b in enumerate(nearest_band)})
    n, m = tiles.rows.shape[0], tiles.cols.shape[0]
    device = tiles.rows.device
    row_cap = torch.full((n,), _FLOAT32_MAX, dtype=torch.float32, device=device)
    col_cap = torch.full((m,), _FLOAT32_MAX, dtype=torch.float32, device=device)

    def bound(take: Callable[[], tuple[int, int] | None]) -> None:
        scratch = tiles.scratch()
        while (pair := take()) is not None:
            r0, c0 = plan.bands[pair[0]], pair[1] * _TILE
            r1, c1 = min(n, r0 + plan.band), min(m, c0 + _TILE)
            lower = scratch.lower(r0, r1, c0, c1)
            # Two pairs may share a band or a tile: a lost update leaves a looser bound, still a bound.
            row_cap[r0:r1] = torch.minimum(row_cap[r0:r1], scratch.row_bounds(lower, r0, c0))
            col_cap[c0:c1] = torch.minimum(col_cap[c0:c1], scratch.col_bounds(lower, r0, c0))

    _parallel.map_pieces(bound, pairs, _parallel.num_workers(len(pairs), workers), device)
    return row_cap, col_cap


def _cross_worker(
    real: PreparedSet,
    synthetic: PreparedSet,
    tiles: _Tiles,
    plan: _Plan,
    orders: tuple[Tensor | None, Tensor | None],
    initial: tuple[Tensor, Tensor] | None,
    take: Callable[[], int | None],
) -> CrossNeighbors:
    """Both directions over the row bands this worker takes (rows it never took stay at (+inf, -1)).

    Distances are indexed by position in the search's order; the indices returned are the caller's (``orders``
    map positions to them), and ties go to the smallest of those.
    """
    n = real.centered.shape[0]
    m = synthetic.centered.shape[0]
    device = real.centered.device
    real_order, synthetic_order = orders
    r2s = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    r2s_index = torch.full((n,), -1, dtype=torch.int64, device=device)
    s2r = torch.full((m,), math.inf, dtype=torch.float64, device=device)
    s2r_index = torch.full((m,), -1, dtype=torch.int64, device=device)
    if initial is not None:  # every row and column already has a bound
        row_cap, col_cap = initial[0].clone(), initial[1].clone()
    else:
        row_cap = torch.full((n,), _FLOAT32_MAX, dtype=torch.float32, device=device)
        col_cap = torch.full((m,), _FLOAT32_MAX, dtype=torch.float32, device=device)
    rows, cols = _Store(device), _Store(device)
    budget = tiles.elements + 8 * (n + m)

    def resolve() -> None:
        row_point, row_other = rows.take(row_cap)
        col_point, col_other = cols.take(col_cap)
        exact = _pair_distances(
            real.data, torch.cat([row_point, col_other]), synthetic.data, torch.cat([row_other, col_point])
        )
        if synthetic_order is not None:
            row_other = synthetic_order[row_other]
        if real_order is not None:
            col_other = real_order[col_other]
        best, index = _nearest_per_point(row_point, exact[: row_point.numel()], row_other, n)
        _merge_nearest(r2s, r2s_index, best, index)
        best, index = _nearest_per_point(col_point, exact[row_point.numel() :], col_other, m)
        _merge_nearest(s2r, s2r_index, best, index)
        torch.minimum(row_cap, tiles.cap(r2s), out=row_cap)
        torch.minimum(col_cap, tiles.cap(s2r), out=col_cap)

    # The column tiles whose columns this worker has bounded (all of them when the bounds came with ``initial``).
    seen = set() if initial is None else set(range(0, m, _TILE))
    while (r0 := take()) is not None:
        r1 = min(n, r0 + plan.band)
        first = initial is None
        for c0, c1, gap in plan.tiles(r0, 0):
            # No pair of the tile can be within its rows' bounds nor its columns': nothing to learn from it.
            if gap > float(row_cap[r0:r1].max()) and gap > float(col_cap[c0:c1].max()):
                continue
            lower = tiles.lower(r0, r1, c0, c1)
            # Before a row (column) has a bound: the tile's minimum, widened by the largest half-width. Later
            # tiles are filtered by the bounds the candidates leave.
            if first:
                torch.minimum(row_cap[r0:r1], tiles.row_bounds(lower, r0, c0), out=row_cap[r0:r1])
                first = False
            if c0 not in seen:
                torch.minimum(col_cap[c0:c1], tiles.col_bounds(lower, r0, c0), out=col_cap[c0:c1])
                seen.add(c0)
            row_i, row_j, col_i, col_j = tiles.below(lower, row_cap[r0:r1], col_cap[c0:c1])
            row_value, col_value = lower[row_i, row_j], lower[col_i, col_j]
            row_i, row_j, col_i, col_j = row_i + r0, row_j + c0, col_i + r0, col_j + c0
            bound = row_value + tiles.row_widen[row_i] + tiles.col_widen[row_j]
            row_cap.scatter_reduce_(0, row_i, bound, reduce="amin")
            bound = col_value + tiles.row_widen[col_i] + tiles.col_widen[col_j]
            col_cap.scatter_reduce_(0, col_j, bound, reduce="amin")
            rows.add(row_i, row_j, row_value)
            cols.add(col_j, col_i, col_value)
            if rows.size + cols.size > budget:
                rows.prune(row_cap)
                cols.prune(col_cap)
                if 2 * (rows.size + cols.size) > budget:
                    resolve()
    resolve()
    return CrossNeighbors(r2s, r2s_index, s2r, s2r_index)

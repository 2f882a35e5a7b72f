"""Exact nearest neighbours with a k-d tree: the fast path at low dimension on CPU.

With numba installed the tree is compiled (:mod:`faithful.functional._ctree`): it computes the brute path's exact
distances itself and answers in one pass. Without numba, ``scipy.spatial.cKDTree`` serves, and only *proposes*
candidates: every returned distance is re-computed with the brute path's exact float64
function (:func:`faithful.functional.neighbors._pair_distances`, fixed summation order), so both algorithms return
the same float64 bits and the same indices. A row's candidates are complete when the tree's farthest proposal is,
beyond any rounding difference between the tree's arithmetic and the exact one, strictly farther than the answer:
then no unproposed point can be closer or tie. Rows that fail (ties, duplicates, near-ties) are queried again with
twice as many neighbours, up to every point.

At d <= 4 with numba installed, the same answers come from a grid of cells instead
(:mod:`faithful.functional._grid`: exact distances by the same function, no re-check needed); where the points
crowd into a few cells the grid declines and the tree is built.

Queries run in contiguous row blocks pulled by a small pool of threads (``cKDTree.query`` releases the GIL): a
thread slowed down by another process on its core simply takes fewer blocks, instead of the whole search waiting
for it at a barrier.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from faithful.functional import _blocks, _ctree, _grid, _parallel
from faithful.functional.neighbors import CrossNeighbors, _pair_distances, _power_of_two_scale, _row_share

__all__ = ["KDTreeIndex", "build_tree", "tree_cross_nearest", "tree_real_knn"]

# Rows per query block: large enough to amortise the call, small enough for a dynamic share among threads.
_BLOCK = 4096
# Queries from this many rows on run in spatial order (see _query).
_ORDER_MIN_ROWS = 50_000
# float64 unit roundoff.
_U64 = 2.0**-53


class KDTreeIndex(NamedTuple):
    """A k-d tree over a point set, built on a copy scaled by a power of two (exact, keeps squares in range)."""

    data: Tensor  #: the caller's points (the exact re-check uses them)
    tree: cKDTree | None  #: None when ``grid`` or ``compiled`` serves the queries
    scale: float  #: the tree's coordinates are ``data * scale``
    grid: _grid.Grid | None = None  #: the cells over ``data`` at d <= 4 (numba), else None
    #: with a grid: the tree for the rows it cannot answer, built at the first such row and kept ({"tree": ...})
    fallback: dict[str, KDTreeIndex] | None = None
    compiled: _ctree.Tree | None = None  #: the compiled tree (numba), else None


def build_tree(data: Tensor) -> KDTreeIndex:
    """Build the index over ``data`` (``(n, d)``, any floating dtype, on the CPU): a grid at d <= 4 where it
    applies, else the tree."""
    grid = _grid.build(data)
    if grid is not None:
        return KDTreeIndex(data, None, 1.0, grid, {})
    return _tree_index(data)


def _fallback_tree(index: KDTreeIndex) -> KDTreeIndex:
    """The tree over a grid's points, for the rows the grid hands over (built once per index: the metric keeps the
    real side's index across evaluations)."""
    assert index.fallback is not None
    if "tree" not in index.fallback:
        index.fallback["tree"] = _tree_index(index.data)
    return index.fallback["tree"]


def _tree_index(data: Tensor) -> KDTreeIndex:
    """The tree over ``data`` (also for the rows a grid could not answer): compiled where numba is installed."""
    compiled = _ctree.build(data)
    if compiled is not None:
        return KDTreeIndex(data, None, 1.0, compiled=compiled)
    points = data.detach().to(device="cpu", dtype=torch.float64)
    scale = _power_of_two_scale(float(points.abs().max())) if points.numel() else 1.0
    if scale != 1.0:
        points = points * scale
    elif points.data_ptr() == data.data_ptr():  # the caller's own float64 memory: the tree keeps a private copy
        points = points.clone()
    array = points.numpy()
    # balanced_tree=False: sliding-midpoint splits build several times faster and query as fast here.
    return KDTreeIndex(data, cKDTree(array, balanced_tree=False, compact_nodes=False), scale)


def _tolerance(dim: int) -> tuple[float, float]:
    """(relative, absolute) bound on |tree squared distance - scaled exact squared distance| (generous).

    Both are sums of d correctly rounded squared differences of the same float64 coordinates (the tree's are
    the exact ones times a power of two), accumulated in different orders: each is within about (d + 2) u of
    the true value; the tree's square root and its re-squaring add a few u, its pruning a few more. An absolute
    term covers gradual underflow (coordinates are at most 1 in the tree's scale).
    """
    return 8.0 * (dim + 8) * _U64, 4.0 * (dim + 8) * 2.0**-1000


def _query(
    index: KDTreeIndex, points: np.ndarray, rows: np.ndarray, num: int, workers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Squared tree distances and indices of the ``num`` nearest tree points to ``points[rows]``, ascending."""
    dist = np.empty((rows.size, num), dtype=np.float64)
    idx = np.empty((rows.size, num), dtype=np.int64)

    tree = index.tree
    assert tree is not None
    # Queried in spatial order, consecutive queries descend the same branches and read the same leaves: at
    # 200,000 points (beyond the caches) this halves the time; below _ORDER_MIN_ROWS it gains nothing.
    position = _blocks.leaf_order(points[rows]) if rows.size >= _ORDER_MIN_ROWS else np.arange(rows.size)

    def block(start: int) -> None:
        stop = min(rows.size, start + _BLOCK)
        where = position[start:stop]
        d, i = tree.query(points[rows[where]], k=num, workers=1)
        dist[where] = np.asarray(d).reshape(stop - start, num)
        idx[where] = np.asarray(i).reshape(stop - start, num)

    _parallel.in_blocks(rows.size, _BLOCK, workers, block)
    np.square(dist, out=dist)
    return dist, idx


def _complete(
    index: KDTreeIndex,
    query_points: np.ndarray,
    rows: Tensor,
    first: int,
    workers: int,
    resolve: Callable[[Tensor, Tensor, Tensor], Tensor],
) -> None:
    """Query ``first`` neighbours per row, then twice as many for the rows whose candidates are not complete.

    ``resolve(rows, tree_dist, tree_idx)`` takes the rows' candidates (``(R, K)`` squared tree distances,
    ascending, and indices), stores their exact answer and returns, per row, the scaled exact value that every
    unproposed point must *strictly* exceed (the k-th distance, the nearest distance).
    """
    assert index.tree is not None
    num_points = index.tree.n
    rel, absolute = _tolerance(index.data.shape[1])
    num = min(first, num_points)
    while rows.numel():
        dist, idx = _query(index, query_points, rows.numpy(), num, workers)
        tree_dist, tree_idx = torch.from_numpy(dist), torch.from_numpy(idx)
        needed = resolve(rows, tree_dist, tree_idx)
        if num >= num_points:  # every point was a candidate
            return
        # Unproposed points have tree distances >= the last proposal's (up to rounding in the pruning).
        beyond = tree_dist[:, -1] * (1.0 - 2.0 * rel) - absolute
        rows = rows[~(beyond > needed)]
        num = min(2 * num, num_points)


def tree_real_knn(index: KDTreeIndex, k: int, rows: slice | None = None, workers: int | None = None) -> Tensor:
    """Exact squared distances from each real sample to its ``k`` nearest *other* real samples (tree path).

    The same values as :func:`faithful.functional.neighbors.real_knn` (self excluded by index, duplicates at
    distance 0). ``rows``: only the rows of this contiguous share of the real samples (self is still excluded by
    its global index). Returns ``(num_rows, k)`` float64, each row ascending.
    """
    real = index.data
    n = real.shape[0]
    start, stop = _row_share(rows, n)
    workers = workers or _parallel.available_threads()
    if index.grid is None:
        return _tree_knn(index, k, torch.arange(start, stop, dtype=torch.int64), workers).to(real.device)
    share = np.arange(start, stop, dtype=np.int64)
    best, _, done = _grid.query(index.grid, real, k, share, True, workers)
    if not done.all():  # rows far from the grid's cells: the tree, which prunes by distance
        rest = torch.from_numpy(np.flatnonzero(~done))
        best[rest] = _tree_knn(_fallback_tree(index), k, rest + start, workers)
    return best.to(real.device)


def _tree_knn(index: KDTreeIndex, k: int, rows: Tensor, workers: int) -> Tensor:
    """:func:`tree_real_knn` of the real samples ``rows`` (global indices) on the tree: ``(len(rows), k)``."""
    if index.compiled is not None:
        return _ctree.query(index.compiled, index.data, k, rows.numpy(), True, workers)[0]
    assert index.tree is not None
    real = index.data
    points = index.tree.data
    best = torch.empty(rows.numel(), k, dtype=torch.float64)
    position = torch.empty(real.shape[0], dtype=torch.int64)
    position[rows] = torch.arange(rows.numel())
    scale2 = index.scale * index.scale

    def resolve(rows_: Tensor, tree_dist: Tensor, tree_idx: Tensor) -> Tensor:
        num = tree_idx.shape[1]
        point = rows_.repeat_interleave(num)
        exact = _pair_distances(real, point, real, tree_idx.flatten()).view(-1, num)
        exact.masked_fill_(tree_idx == rows_.unsqueeze(1), math.inf)  # self, by index
        kth = exact.sort(dim=1).values[:, :k]
        best[position[rows_]] = kth
        return kth[:, k - 1] * scale2

    _complete(index, points, rows, k + 2, workers, resolve)
    return best


def _nearest(query: Tensor, index: KDTreeIndex, workers: int) -> tuple[Tensor, Tensor]:
    """Per row of ``query``: the exact squared distance to the nearest indexed point, ties to the smallest index."""
    num = query.shape[0]
    if index.grid is not None:
        value, nearest, done = _grid.query(index.grid, query, 1, np.arange(num, dtype=np.int64), False, workers)
        value, nearest = value[:, 0], nearest[:, 0]
        if not done.all():  # rows far from the grid's cells: the tree, which prunes by distance
            rest = torch.from_numpy(np.flatnonzero(~done))
            tree = _fallback_tree(index)
            value[rest], nearest[rest] = _nearest(query[rest], tree, workers)
        return value, nearest
    if index.compiled is not None:
        value, nearest = _ctree.query(index.compiled, query, 1, np.arange(num, dtype=np.int64), False, workers)
        return value[:, 0], nearest[:, 0]
    best = torch.empty(num, dtype=torch.float64)
    best_index = torch.empty(num, dtype=torch.int64)
    scale2 = index.scale * index.scale
    big = torch.iinfo(torch.int64).max

    def resolve(rows_: Tensor, tree_dist: Tensor, tree_idx: Tensor) -> Tensor:
        width = tree_idx.shape[1]
        exact = _pair_distances(query, rows_.repeat_interleave(width), index.data, tree_idx.flatten())
        exact = exact.view(-1, width)
        value = exact.min(dim=1).values
        best[rows_] = value
        best_index[rows_] = torch.where(exact == value.unsqueeze(1), tree_idx, big).min(dim=1).values
        return value * scale2

    # The tree's coordinates (scaled by its power of two): only the tree path needs them.
    _complete(index, _points(query, index.scale), torch.arange(num, dtype=torch.int64), 2, workers, resolve)
    return best, best_index


def _points(x: Tensor, scale: float) -> np.ndarray:
    """``x`` in a tree's coordinates (float64, scaled by its power of two)."""
    points = x.detach().to(device="cpu", dtype=torch.float64)
    return (points * scale).numpy() if scale != 1.0 else points.numpy()


def tree_cross_nearest(
    real_index: KDTreeIndex,
    synthetic: Tensor,
    synthetic_index: KDTreeIndex | None = None,
    workers: int | None = None,
    real_rows: slice | None = None,
    synthetic_rows: slice | None = None,
) -> CrossNeighbors:
    """Both nearest-neighbour directions, exactly (same values as :func:`neighbors.cross_nearest`).

    ``synthetic_index``: a tree over ``synthetic`` (built here when ``None``). ``real_rows`` /
    ``synthetic_rows``: query only these contiguous shares of the real / synthetic samples (the others stay at
    (+inf, -1)), for sharing the search among processes; :func:`neighbors.merge_cross` of the shares of all
    processes gives the full result.
    """
    workers = workers or _parallel.available_threads()
    real = real_index.data
    synthetic_index = synthetic_index or build_tree(synthetic)
    r2s, r2s_index = _nearest_share(real, real_rows, synthetic_index, workers)
    s2r, s2r_index = _nearest_share(synthetic, synthetic_rows, real_index, workers)
    device = real.device
    return CrossNeighbors(r2s.to(device), r2s_index.to(device), s2r.to(device), s2r_index.to(device))


def _nearest_share(query: Tensor, rows: slice | None, index: KDTreeIndex, workers: int) -> tuple[Tensor, Tensor]:
    """:func:`_nearest` for the rows of a contiguous share of ``query``; the other rows get (+inf, -1)."""
    start, stop = _row_share(rows, query.shape[0])
    if (start, stop) == (0, query.shape[0]):
        return _nearest(query, index, workers)
    best = torch.full((query.shape[0],), math.inf, dtype=torch.float64)
    best_index = torch.full((query.shape[0],), -1, dtype=torch.int64)
    if stop > start:
        share = query[start:stop]
        best[start:stop], best_index[start:stop] = _nearest(share, index, workers)
    return best, best_index

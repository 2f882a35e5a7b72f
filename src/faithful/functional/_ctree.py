"""Exact nearest neighbours on a compiled k-d tree: the ``kd_tree`` algorithm's tree when numba is installed.

``scipy.spatial.cKDTree`` only proposes candidates here (its distances are its own arithmetic, so every proposal is
re-computed exactly and uncertain rows are asked again). This tree computes the brute path's exact float64
distances itself (:func:`faithful.functional.neighbors._pair_distances`: the same operations in the same order,
so the same bits) and skips a node only when its box distance, less a margin wider than the roundings of both,
exceeds the k-th distance so far: one pass, no re-check, ties to the smallest index. A leaf's distances are
computed a whole axis at a time (the points are stored one row per axis), which vectorises; queries run in the
order of the tree's leaves, so consecutive queries read the same nodes and leaves from cache. A full compute
takes 0.53-0.72x the cKDTree path's time at n = m = 20,000-10^6, d = 6-10 (docs/performance.md).

Without numba (or for float16 / bfloat16 inputs, which the compiled distances do not take) the ``cKDTree`` path of
:mod:`faithful.functional.kdtree` runs instead.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from faithful.functional import _blocks, _kernels, _parallel

__all__ = ["LEAF_SIZE", "Tree", "build", "query"]

#: Points per leaf (at d = 8, 10^6 points, leaves of 8 to 32 points answered within 10% of each other).
LEAF_SIZE = 16
# Query rows per block (blocks are shared among threads: the kernel runs without the GIL).
_BLOCK = 4096
# float64 unit roundoff.
_U64 = 2.0**-53


def _margin(dim: int) -> tuple[float, float]:
    """(relative, absolute) margin of the pruning test: a box distance and an exact distance are each a sum of d
    rounded squares (d + 1 roundings, in different orders), within (d + 1) u of the sums of their exact terms;
    twice that, doubled again, covers both. The absolute term covers gradual underflow (each rounding there is
    within 2^-1075)."""
    return 4.0 * (dim + 2) * _U64, (dim + 2) * 2.0**-1000


class Tree(NamedTuple):
    """A k-d tree over float64 copies of the caller's points (see ``_kernels._tree_build``)."""

    points: np.ndarray  #: (d, N) float64: the points in node order, one row per axis
    order: np.ndarray  #: (N,) int64: the caller's index of each stored point
    box: np.ndarray  #: (nodes, 2 d) float64: each node's lowest, then highest, coordinates
    start: np.ndarray  #: (nodes,) int64: a node holds the stored points ``start[node] : stop[node]``
    stop: np.ndarray  #: (nodes,) int64
    child: np.ndarray  #: (nodes,) int64: a node's first child (the second follows it); -1 for a leaf
    widest: int  #: the most points in a leaf (the size of the query kernel's scratch)


def build(data: Tensor) -> Tree | None:
    """The tree over ``data`` (``(N, d)`` float32 or float64, on the CPU, finite), or None where numba is not
    installed or the input is of another type (the caller builds a ``cKDTree`` instead)."""
    num, dim = data.shape
    if not _kernels.AVAILABLE or num == 0 or dim == 0 or data.dtype not in _kernels.FLOAT_DTYPES:
        return None
    points = data.detach().to(device="cpu", dtype=torch.float64).contiguous().numpy()
    if not np.isfinite(points).all():
        return None
    order, box, start, stop, child = _kernels.tree_build(points, LEAF_SIZE)
    widest = int((stop - start)[child < 0].max())
    return Tree(np.ascontiguousarray(points[order].T), order, box, start, stop, child, widest)


def query(
    tree: Tree, queries: Tensor, k: int, rows: np.ndarray, exclude_self: bool, workers: int
) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest tree points of ``queries[rows]``: exact squared distances ``(R, k)``, ascending, and
    indices (ties to the smallest index).

    ``exclude_self``: ``queries`` are the tree's own points and row i is never its own neighbour. Where fewer than
    k points qualify, the rest is (+inf, -1). ``queries``: float32 or float64, d columns.
    """
    points = queries.detach().to(device="cpu", dtype=torch.float64).contiguous().numpy()
    # Queries in the order of the leaves (``ordered``; ``position``: where each one's answer goes).
    own = _blocks.own_order(tree.order, rows) if exclude_self else None
    if own is not None:  # the tree's own points: in its own order
        ordered, position = own
    else:
        position = _blocks.leaf_order(points[rows])
        ordered = rows[position]
    distance = np.empty((rows.size, k), dtype=np.float64)
    index = np.empty((rows.size, k), dtype=np.int64)
    relative, absolute = _margin(points.shape[1])

    def block(begin: int) -> None:
        end = min(rows.size, begin + _BLOCK)
        _kernels.tree_query(
            tree.points,
            tree.order,
            tree.box,
            tree.start,
            tree.stop,
            tree.child,
            points,
            ordered[begin:end],
            tree.widest,
            exclude_self,
            relative,
            absolute,
            distance[begin:end],
            index[begin:end],
        )

    _parallel.in_blocks(rows.size, _BLOCK, workers, block)
    out_distance, out_index = np.empty_like(distance), np.empty_like(index)
    out_distance[position], out_index[position] = distance, index  # in ``rows``' order
    return torch.from_numpy(out_distance), torch.from_numpy(out_index)

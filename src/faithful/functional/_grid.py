"""Exact nearest neighbours on a grid of cells: the ``kd_tree`` algorithm's path for d <= 4 when numba is installed.

At one to four dimensions a k-d tree spends most of its time walking nodes, while a point's neighbours sit in the
few cells around it. Here each axis is cut at quantiles of the indexed points (so cells hold a few points each
whatever the marginal distributions), the points are stored cell by cell, and a query visits the shells of cells
around its own, ring by ring, until the gap to the cells not yet visited is wider than its k-th distance: nothing
farther can be closer, nor tie. A query's k nearest are kept in (distance, index) order, so ties go to the smallest
index, and queries run in cell order, so consecutive queries read the same cells.

Distances are the brute path's exact float64 function (:func:`faithful.functional.neighbors._pair_distances`, the
same operations in the same order): the same bits. A gap is the difference of two float64 numbers (one rounding),
and the stopping test keeps a relative margin far wider than that rounding and the distances' own.

Cells are only as good as the points are spread: where they concentrate on a few cells (a line in the plane, many
ties on one axis), :func:`build` declines and the k-d tree runs instead.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from faithful.functional import _blocks, _kernels, _parallel

__all__ = ["MAX_DIM", "Grid", "build", "query"]

#: Dimensions the grid serves (a shell's cells grow like r^(d - 1), a query's first box holds 3^d cells).
MAX_DIM = 4
# Points per cell aimed at: a query's own cell and the next ring then usually hold its k nearest.
_PER_CELL = 4
# Mean number of points in the cell of a point (sum of squared cell counts / points) above which the grid declines:
# every query would compare with at least that many points, and the tree does better.
_MAX_LOAD = 24.0
# The last ring a query may search, by dimension: a query still unsure after it (far from the points: the cells'
# gaps grow by one cell per ring, its distances do not) is answered by a tree instead, which prunes by distance.
# Rings 0..R hold (2R + 1)^d cells: 289, 343 and 625 at d = 2, 3, 4.
_MAX_RING = {1: 32, 2: 8, 3: 3, 4: 2}
# Query rows per block (blocks are shared among threads: the kernel runs without the GIL).
_BLOCK = 4096
# Relative margin of the stopping test: far above the roundings of a gap (1 u) and of a distance ((d + 2) u).
_MARGIN = 1e-12


class Grid(NamedTuple):
    """Points sorted into cells cut at quantiles of each axis (float64 copies of the caller's values)."""

    points: np.ndarray  #: (N, d) float64, cell by cell: ``points[i]`` is the caller's point ``order[i]``
    edges: np.ndarray  #: (MAX_DIM, E) interior cell edges per axis (axis j uses the first ``shape[j] - 1``)
    shape: np.ndarray  #: (MAX_DIM,) int64 cells per axis (1 for the axes beyond d)
    start: np.ndarray  #: (cells + 1,) int64: cell c holds ``points[start[c] : start[c + 1]]``
    order: np.ndarray  #: (N,) int64 the caller's index of each stored point


def build(data: Tensor) -> Grid | None:
    """The grid over ``data`` (``(N, d)`` float32 or float64, on the CPU), or None where it does not apply or help.

    A point whose cell coordinate on an axis is c lies in ``[edges[c - 1], edges[c])`` there (unbounded at both
    ends), so every point, indexed or queried, lies in exactly one cell.
    """
    num, dim = data.shape
    if not _kernels.AVAILABLE or not 1 <= dim <= MAX_DIM or num == 0 or data.dtype not in _kernels.FLOAT_DTYPES:
        return None
    points = data.detach().to(device="cpu", dtype=torch.float64).numpy()
    if not np.isfinite(points).all():
        return None
    per_axis = max(1, round((num / _PER_CELL) ** (1.0 / dim)))
    shape = np.ones(MAX_DIM, dtype=np.int64)
    edges = np.full((MAX_DIM, max(1, per_axis - 1)), np.inf)
    positions = (np.arange(1, per_axis) * num) // per_axis
    for axis in range(dim):
        column = np.sort(points[:, axis])
        cuts = np.unique(column[positions])
        cuts = cuts[cuts > column[0]]  # no empty first cell
        shape[axis] = cuts.size + 1
        edges[axis, : cuts.size] = cuts
    start, order = _kernels.cell_sort(points, edges, shape)
    if float(np.square(np.diff(start), dtype=np.float64).sum()) / num > _MAX_LOAD:
        return None
    return Grid(np.ascontiguousarray(points[order]), edges, shape, start, order)


def query(
    grid: Grid, queries: Tensor, k: int, rows: np.ndarray, exclude_self: bool, workers: int
) -> tuple[Tensor, Tensor, np.ndarray]:
    """The ``k`` nearest grid points of ``queries[rows]``: exact squared distances ``(R, k)``, ascending, indices,
    and whether each row's answer is certain (``(R,)`` bool; the caller answers the others another way).

    ``exclude_self``: ``queries`` are the grid's own points and row i is never its own neighbour. Where fewer than
    k points qualify, the rest is (+inf, -1). ``queries``: float32 or float64, d columns.
    """
    points = queries.detach().to(device="cpu", dtype=torch.float64).contiguous().numpy()
    # Queries in cell order (``ordered``; ``position``: where each one's answer goes).
    own = _blocks.own_order(grid.order, rows) if exclude_self else None
    if own is not None:  # the grid's own points: in its own order
        ordered, position = own
    else:
        position = _kernels.cell_sort(points[rows], grid.edges, grid.shape)[1]
        ordered = rows[position]
    distance = np.empty((rows.size, k), dtype=np.float64)
    index = np.empty((rows.size, k), dtype=np.int64)
    done = np.empty(rows.size, dtype=np.bool_)
    max_ring = _MAX_RING[queries.shape[1]]

    def block(begin: int) -> None:
        end = min(rows.size, begin + _BLOCK)
        _kernels.grid_query(
            grid.points,
            grid.edges,
            grid.shape,
            grid.start,
            grid.order,
            points,
            ordered[begin:end],
            exclude_self,
            _MARGIN,
            max_ring,
            distance[begin:end],
            index[begin:end],
            done[begin:end],
        )

    _parallel.in_blocks(rows.size, _BLOCK, workers, block)
    out_distance, out_index = np.empty_like(distance), np.empty_like(index)
    out_done = np.empty_like(done)
    out_distance[position], out_index[position], out_done[position] = distance, index, done  # in ``rows``' order
    return torch.from_numpy(out_distance), torch.from_numpy(out_index), out_done

"""Spatial order and block geometry for the tiled search (:mod:`faithful.functional.neighbors`).

On unordered data every tile of the distance matrix holds a random share of the points: the running bounds of a
row tighten slowly, and most tiles still hold candidates that must be compared entry by entry. Put in the order
of a k-d tree's leaves (``scipy.spatial.cKDTree``, built in milliseconds), a band of consecutive rows and a tile
of consecutive columns are each a compact region of space with a centre and a radius. The search then visits a
band's tiles nearest first, so its bounds are nearly final after a tile or two and later tiles are filtered by
one row and column minimum; and it skips a tile whose balls are farther apart than every bound it could improve.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

__all__ = ["Layout", "layout", "leaf_order", "own_order", "spatial_order"]

# float32 unit roundoff: the search's coordinates are the exact scaled ones rounded to float32.
_U32 = 2.0**-24


def spatial_order(points: Tensor) -> Tensor:
    """A permutation putting ``points`` in the order of a k-d tree's leaves: nearby points get nearby positions."""
    array = points.detach().to(device="cpu", dtype=torch.float64).numpy()
    return torch.from_numpy(leaf_order(array)).to(points.device)


def leaf_order(array: np.ndarray) -> np.ndarray:
    """:func:`spatial_order` of a float64 array ``(n, d)``, as an int64 array."""
    if array.shape[0] < 2:
        return np.arange(array.shape[0], dtype=np.int64)
    tree = cKDTree(array, leafsize=32, balanced_tree=False, compact_nodes=False, copy_data=False)
    return tree.indices.astype(np.int64)


def own_order(order: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """For queries that are an index's own points ``rows`` (a contiguous run of indices), given the index's storage
    order ``order`` (its points' indices, nearby points side by side): the rows in that order (``ordered``) and where
    each one's answer goes (``position``). None where ``rows`` is not such a run."""
    if not rows.size or not np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)):
        return None
    ordered = order[(order >= rows[0]) & (order < rows[0] + rows.size)]
    return ordered, ordered - rows[0]


def _balls(points: Tensor, starts: list[int], size: int) -> tuple[Tensor, Tensor]:
    """Centres and radii (float64) of the blocks ``points[s : s + size]`` for ``s`` in ``starts``."""
    centers = torch.empty(len(starts), points.shape[1], dtype=torch.float64, device=points.device)
    radii = torch.empty(len(starts), dtype=torch.float64, device=points.device)
    for block, start in enumerate(starts):
        rows = points[start : start + size].to(torch.float64)
        centers[block] = rows.mean(dim=0)
        radii[block] = (rows - centers[block]).norm(dim=1).max()
    return centers, radii


class Layout(NamedTuple):
    """The geometry of row bands against column tiles (float64, ``(bands, tiles)``)."""

    band_of: dict[int, int]  #: a band's first row -> its row in the tables
    centers: list[list[float]]  #: distances between the balls' centres: the visiting order
    gaps: list[list[float]]  #: lower bounds on the scaled squared distance of any row-column pair


def layout(rows: Tensor, cols: Tensor, band_starts: list[int], band: int, tile: int) -> Layout:
    """Balls around the row bands (``rows[s : s + band]``) and the column tiles (``cols[t * tile : ...]``).

    ``rows`` and ``cols`` are the search's float32 coordinates. Each exact scaled point lies within
    ``u sqrt(d)`` of its float32 copy (coordinates are at most 1 after scaling), and the float64 arithmetic here
    is within a relative 1e-12: both are taken off the gaps, which may only be too small, never too large.
    """
    row_centers, row_radii = _balls(rows, band_starts, band)
    col_centers, col_radii = _balls(cols, list(range(0, cols.shape[0], tile)), tile)
    # Direct differences (not the matrix-product formula, which cancels digits).
    centers = torch.cdist(row_centers, col_centers, compute_mode="donot_use_mm_for_euclid_dist")
    radii = row_radii.unsqueeze(1) + col_radii.unsqueeze(0)
    slack = 2.0 * _U32 * math.sqrt(rows.shape[1]) + 1e-12 * (centers + radii)
    gaps = (centers - radii - slack).clamp_(min=0.0).square_()
    return Layout({start: i for i, start in enumerate(band_starts)}, centers.tolist(), gaps.tolist())

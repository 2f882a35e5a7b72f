"""Compiled kernels for the tiled search and the intervals (optional: used when numba is installed).

After a tile's matrix product, the search needs the positions whose lower bound is within their row's bound
and those within their column's bound. In torch that is a row minimum, a column minimum, comparisons and
``nonzero`` over the rows and columns that can hold a candidate: several passes over the tile and dozens of small
operations, each holding Python's GIL between kernels, so two worker threads get in each other's way. Compiled,
it is one vectorised counting pass and a short scan of the rows and columns that counted, run without the GIL.
The results are the same positions (the caller re-checks every candidate exactly either way).

The exact distances of candidate pairs (:func:`pair_distances`) are bit for bit those of the torch code (the same
float64 operations in the same order), in one pass without the gathered copies; :func:`smallest` selects each
row's k smallest entries by a selection on the few entries that can be among them;
:func:`list_members` walks the intervals' neighbour lists for the members of a half-set.

``pip install lightning-faithful[fast]`` installs numba; without it the torch filter runs. The first use in a
process compiles the filter (about a second; cached on disk where numba can write its cache).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

try:  # optional dependency
    import numba
except ImportError:  # pragma: no cover - exercised by the tests through AVAILABLE
    numba = None  # type: ignore[assignment]

__all__ = [
    "AVAILABLE",
    "FLOAT_DTYPES",
    "below",
    "cell_sort",
    "grid_query",
    "list_members",
    "merge_smallest",
    "pair_distances",
    "small_product",
    "smallest",
    "tree_build",
    "tree_query",
]

#: Whether the compiled filter is used (numba installed, and not switched off with FAITHFUL_NO_NUMBA=1).
AVAILABLE = numba is not None and os.environ.get("FAITHFUL_NO_NUMBA", "") not in ("1", "true", "yes")
#: Data types the compiled exact distances take (the others go through torch).
FLOAT_DTYPES = (torch.float32, torch.float64)


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


def _small_product(
    row_factors: np.ndarray, col_factors: np.ndarray, bounds: tuple[int, int, int, int], out: np.ndarray
) -> None:
    """``out = row_factors[r0:r1] @ col_factors[:, c0:c1]`` for a small inner dimension (``bounds``: r0, r1, c0, c1).

    With a depth of d + 2 <= 14 the BLAS' blocked product spends its time on packing and edges (on this project's
    AMD host, ``torch.mm`` took 0.87 ms for a 512 x 2048 tile at depth 10; this loop 0.41 ms): four rows at a time
    share each load of the columns' factors, and the inner loops run over contiguous row views (vectorised). The
    sums are in another order than the BLAS': the caller's error bound holds for any order.
    """
    r0, r1, c0, c1 = bounds
    depth = row_factors.shape[1]
    rows, cols = r1 - r0, c1 - c0
    i = 0
    while i + 4 <= rows:
        out0, out1, out2, out3 = out[i], out[i + 1], out[i + 2], out[i + 3]
        column = col_factors[0, c0:c1]
        f0, f1 = row_factors[r0 + i, 0], row_factors[r0 + i + 1, 0]
        f2, f3 = row_factors[r0 + i + 2, 0], row_factors[r0 + i + 3, 0]
        for j in range(cols):
            value = column[j]
            out0[j] = f0 * value
            out1[j] = f1 * value
            out2[j] = f2 * value
            out3[j] = f3 * value
        for c in range(1, depth):
            column = col_factors[c, c0:c1]
            f0, f1 = row_factors[r0 + i, c], row_factors[r0 + i + 1, c]
            f2, f3 = row_factors[r0 + i + 2, c], row_factors[r0 + i + 3, c]
            for j in range(cols):
                value = column[j]
                out0[j] += f0 * value
                out1[j] += f1 * value
                out2[j] += f2 * value
                out3[j] += f3 * value
        i += 4
    while i < rows:
        row = out[i]
        factor = row_factors[r0 + i, 0]
        column = col_factors[0, c0:c1]
        for j in range(cols):
            row[j] = factor * column[j]
        for c in range(1, depth):
            factor = row_factors[r0 + i, c]
            column = col_factors[c, c0:c1]
            for j in range(cols):
                row[j] += factor * column[j]
        i += 1


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


def _pair_distances(a: np.ndarray, a_index: np.ndarray, b: np.ndarray, b_index: np.ndarray) -> np.ndarray:
    """``|a[a_index[p]] - b[b_index[p]]|^2`` in float64 for every pair p, summed in the order of
    ``neighbors._tree_sum_``.

    Halves of a (virtually) zero-padded power-of-two width are added in place: the same roundings in the same
    order as the torch code, so equal pairs give equal bits whichever code computed them. No row views: each would
    cost a reference count, as much as a short distance.
    """
    pairs, dim = a_index.size, a.shape[1]
    out = np.zeros(pairs, np.float64)
    if dim == 0:
        return out
    size = 1
    while size < dim:
        size *= 2
    work = np.empty(dim, np.float64)
    for p in range(pairs):
        i, j = a_index[p], b_index[p]
        for c in range(dim):
            diff = np.float64(a[i, c]) - np.float64(b[j, c])
            work[c] = diff * diff
        width = dim  # the halving of ``_halve``, written out: a call per pair costs 20% here
        step = size
        while step > 1:
            half = step // 2
            if width > half:
                for c in range(width - half):
                    work[c] += work[c + half]
                width = half
            step = half
        out[p] = work[0]
    return out


def _cell_sort(points: np.ndarray, edges: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells of ``points`` in the grid of ``edges`` / ``shape`` (on an axis: the number of edges at or below the
    coordinate; row-major over the grid's axes) sorted by a counting sort: ``(start, order)``, cell c holding the
    points ``order[start[c] : start[c + 1]]`` in index order."""
    num, dim = points.shape
    axes = shape.size
    cell = np.zeros(num, np.int64)
    for i in range(num):
        linear = 0
        for axis in range(axes):
            linear *= shape[axis]
            if axis < dim and shape[axis] > 1:
                # The number of edges <= the coordinate, by a branch-free binary search (conditional moves: a
                # branch on random coordinates mispredicts half the time).
                value = points[i, axis]
                base = 0
                size = shape[axis] - 1
                while size > 1:
                    half = size // 2
                    base = base + half if edges[axis, base + half] <= value else base
                    size -= half
                linear += base + (edges[axis, base] <= value)
        cell[i] = linear
    start = np.zeros(shape.prod() + 1, np.int64)
    for i in range(num):
        start[cell[i] + 1] += 1
    for c in range(start.size - 1):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(num, np.int64)
    for i in range(num):
        order[fill[cell[i]]] = i
        fill[cell[i]] += 1
    return start, order


def _shell(ring: int, home: np.ndarray, shape: np.ndarray, cells: np.ndarray, at: np.ndarray) -> int:
    """Write the cells at Chebyshev distance ``ring`` from cell ``home`` (within the grid) to ``cells``; their count.

    An odometer ``at`` runs over the box on all axes but the last; where none of them is on the box's face, only
    the last axis' two faces belong to the shell.
    """
    axes = shape.size
    last = axes - 1
    for axis in range(last):
        at[axis] = max(0, home[axis] - ring)
    count = 0
    while True:
        base = 0
        face = False
        for axis in range(last):
            base = base * shape[axis] + at[axis]
            face = face or abs(at[axis] - home[axis]) == ring
        base *= shape[last]
        if face:  # on the shell whatever the last coordinate
            for i in range(max(0, home[last] - ring), min(shape[last] - 1, home[last] + ring) + 1):
                cells[count] = base + i
                count += 1
        else:  # inside the box on the other axes: the shell's two faces on the last
            if home[last] - ring >= 0:
                cells[count] = base + home[last] - ring
                count += 1
            if ring > 0 and home[last] + ring <= shape[last] - 1:
                cells[count] = base + home[last] + ring
                count += 1
        axis = last - 1  # next position of the odometer
        while axis >= 0:
            if at[axis] < min(shape[axis] - 1, home[axis] + ring):
                at[axis] += 1
                break
            at[axis] = max(0, home[axis] - ring)
            axis -= 1
        if axis < 0:
            return count


def _insert(best: np.ndarray, best_index: np.ndarray, value: float, index: int) -> None:
    """Insert (``value``, ``index``) into the k nearest so far, kept ascending in (distance, index) order (ties to
    the smallest index); nothing changes unless it ranks before the last of them."""
    last = best.size - 1
    if value > best[last] or (value == best[last] and index >= best_index[last]):
        return
    slot = last
    while slot > 0 and (best[slot - 1] > value or (best[slot - 1] == value and best_index[slot - 1] > index)):
        best[slot] = best[slot - 1]
        best_index[slot] = best_index[slot - 1]
        slot -= 1
    best[slot] = value
    best_index[slot] = index


def _grid_query(
    points: np.ndarray,
    edges: np.ndarray,
    shape: np.ndarray,
    start: np.ndarray,
    order: np.ndarray,
    queries: np.ndarray,
    rows: np.ndarray,
    exclude_self: bool,
    margin: float,
    max_ring: int,
    out_value: np.ndarray,
    out_index: np.ndarray,
    out_done: np.ndarray,
) -> None:
    """The k nearest ``points`` of each ``queries[rows[q]]``, by shells of grid cells (``faithful.functional._grid``).

    ``points`` are stored cell by cell and ``order`` maps them to their indices; d <= 4. After the shell at ring r
    (the cells at most r away on every axis from the query's cell), every point not yet seen lies beyond an edge of
    that box on some axis: at least the smallest such gap away. The search stops when the k-th distance is below
    the square of that gap (less a relative ``margin``), or when no cell is left; ``out_done[q]`` is False where it
    gave up after ring ``max_ring`` (a query far from the points, or in a thin spot of the cells: the caller asks a
    tree). Distances are summed in the order
    of :func:`_pair_distances`, written out: x0, x0 + x1, (x0 + x2) + x1, (x0 + x2) + (x1 + x3) at d = 1 to 4 (no
    row views or calls in the inner loop: each would cost more than the distance).
    """
    k = out_value.shape[1]
    last = k - 1
    dim = points.shape[1]
    axes = shape.size
    home = np.zeros(axes, np.int64)
    at_buffer = np.zeros(axes, np.int64)
    cells = np.empty(shape.prod(), np.int64)
    best = np.empty(k, np.float64)  # the query's k nearest so far, in (distance, index) order
    best_index = np.empty(k, np.int64)
    none = np.iinfo(np.int64).max
    for q in range(rows.size):
        row = rows[q]
        own = row if exclude_self else -1
        best[:] = np.inf
        best_index[:] = none  # (inf, none) ranks after every real pair, even one at distance inf
        for axis in range(axes):
            home[axis] = 0
            if axis < dim:
                home[axis] = np.searchsorted(edges[axis, : shape[axis] - 1], queries[row, axis], side="right")
        q0 = queries[row, 0]
        q1 = queries[row, 1] if dim >= 2 else 0.0
        q2 = queries[row, 2] if dim >= 3 else 0.0
        q3 = queries[row, 3] if dim >= 4 else 0.0
        ring = 0
        while True:
            for c in range(_shell(ring, home, shape, cells, at_buffer)):
                cell = cells[c]
                for at in range(start[cell], start[cell + 1]):
                    diff = q0 - points[at, 0]
                    value = diff * diff
                    if dim >= 3:
                        diff = q2 - points[at, 2]
                        value += diff * diff
                    if dim >= 2:
                        diff = q1 - points[at, 1]
                        square = diff * diff
                        if dim == 4:
                            diff = q3 - points[at, 3]
                            square += diff * diff
                        value += square
                    if value <= best[last] and order[at] != own:  # few candidates get this far
                        _insert(best, best_index, value, order[at])
            gap = np.inf
            for axis in range(dim):
                below = home[axis] - ring - 1
                if below >= 0:
                    gap = min(gap, queries[row, axis] - edges[axis, below])
                above = home[axis] + ring
                if above <= shape[axis] - 2:
                    gap = min(gap, edges[axis, above] - queries[row, axis])
            done = gap == np.inf or best[last] < gap * gap * (1.0 - margin)  # every cell visited, or certain
            if done or ring == max_ring:
                out_done[q] = done
                break
            ring += 1
        out_value[q] = best
        for slot in range(k):
            out_index[q, slot] = -1 if best_index[slot] == none else best_index[slot]


def _tree_build(points: np.ndarray, leaf_size: int) -> tuple[np.ndarray, ...]:
    """A k-d tree over ``points`` (``(N, d)`` float64): ``(order, box, start, stop, child)``.

    A node holds the points ``order[start : stop]``; its box (``box[node, :d]`` lowest, ``box[node, d:]`` highest
    coordinates) is the tight box of those points. A node of more than ``leaf_size`` points is cut at the median of
    its widest axis into the nodes ``child[node]`` and ``child[node] + 1`` (-1: a leaf); a node whose points are all
    equal stays a leaf whatever its size (no cut can separate them).
    """
    num, dim = points.shape
    order = np.arange(num)
    # Every cut leaves at least (leaf_size + 1) // 2 points on each side: at most 2 N / that leaves.
    capacity = 2 * (num // max(1, (leaf_size + 1) // 2) + 1)
    box = np.empty((capacity, 2 * dim), np.float64)
    start = np.zeros(capacity, np.int64)
    stop = np.zeros(capacity, np.int64)
    child = np.full(capacity, -1, np.int64)
    stack = np.empty(capacity, np.int64)
    key = np.empty(num, np.float64)
    stop[0] = num
    nodes = 1
    top = 0
    stack[0] = 0
    while top >= 0:
        node = stack[top]
        top -= 1
        first, last = start[node], stop[node]
        axis = 0
        widest = 0.0
        for c in range(dim):
            low = np.inf
            high = -np.inf
            for at in range(first, last):
                value = points[order[at], c]
                low = min(low, value)
                high = max(high, value)
            box[node, c] = low
            box[node, dim + c] = high
            if high - low > widest:
                widest = high - low
                axis = c
        if last - first <= leaf_size or widest <= 0.0:
            continue
        for at in range(first, last):
            key[at] = points[order[at], axis]
        middle = first + (last - first) // 2
        _partition(key, order, first, last - 1, middle)
        child[node] = nodes
        start[nodes], stop[nodes] = first, middle
        start[nodes + 1], stop[nodes + 1] = middle, last
        stack[top + 1] = nodes
        stack[top + 2] = nodes + 1
        top += 2
        nodes += 2
    return order, box[:nodes].copy(), start[:nodes].copy(), stop[:nodes].copy(), child[:nodes].copy()


def _partition(key: np.ndarray, order: np.ndarray | None, lo: int, hi: int, target: int) -> None:
    """Reorder ``key[lo : hi + 1]`` (and ``order`` alike, unless None) so that ``key[target]`` is in its sorted place,
    with no larger key before it and no smaller one after it (quickselect, median of three: O(n), where a sort is
    O(n log n)). With ``order=None`` the compiler drops the companion's swaps."""
    while lo < hi:
        a, b, c = key[lo], key[(lo + hi) // 2], key[hi]
        pivot = max(min(a, b), min(max(a, b), c))
        left, right = lo, hi
        while left <= right:
            while key[left] < pivot:
                left += 1
            while key[right] > pivot:
                right -= 1
            if left <= right:
                key[left], key[right] = key[right], key[left]
                if order is not None:
                    order[left], order[right] = order[right], order[left]
                left += 1
                right -= 1
        if target <= right:
            hi = right
        elif target >= left:
            lo = left
        else:
            break


def _halve(work: np.ndarray, dim: int, size: int, count: int) -> None:
    """Sum the rows ``work[:dim, :count]`` into ``work[0, :count]`` in the order of :func:`_pair_distances` (halves of
    a zero-padded width ``size``, the next power of two), column by column."""
    width = dim
    step = size
    while step > 1:
        half = step // 2
        if width > half:
            for c in range(width - half):
                for j in range(count):
                    work[c, j] += work[c + half, j]
            width = half
        step = half


def _box_distance(box: np.ndarray, node: int, query: np.ndarray) -> float:
    """Squared distance from ``query`` to the box of ``node`` (float64, summed along the axes).

    Per axis the rounded gap is at most any box point's rounded difference (rounding is monotone: lowest - q <=
    p - q rounds to at most fl(p - q)), so the sum differs from a lower bound on the exact distances only by the
    roundings of two sums of d + 1 non-negative terms in different orders: the caller's margin.
    """
    dim = query.size
    total = 0.0
    for c in range(dim):
        gap = max(box[node, c] - query[c], query[c] - box[node, dim + c], 0.0)
        total += gap * gap
    return total


def _tree_query(
    points: np.ndarray,
    order: np.ndarray,
    box: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    child: np.ndarray,
    queries: np.ndarray,
    rows: np.ndarray,
    widest: int,
    exclude_self: bool,
    relative: float,
    absolute: float,
    out_value: np.ndarray,
    out_index: np.ndarray,
) -> None:
    """The k nearest tree points of each ``queries[rows[q]]`` (``faithful.functional._ctree``), exactly.

    ``points`` is ``(d, N)``: the tree's points in node order, one row per axis, so that a leaf's distances are
    computed a whole axis at a time (vectorised); ``widest``: the most points in a leaf. Depth first, nearer child
    first; a node is skipped when its box distance, less the margin (``relative`` of it and ``absolute``) that
    covers the roundings of both it and the exact distances (:func:`_box_distance`), is still farther than the
    k-th distance so far: strictly farther, so no point that is closer, or ties and has a smaller index, is ever
    skipped. Distances are the exact ones of :func:`_pair_distances`; a query's k nearest are kept in (distance,
    index) order, so ties go to the smallest index.
    """
    k = out_value.shape[1]
    last = k - 1
    dim = points.shape[0]
    size = 1
    while size < dim:
        size *= 2
    work = np.empty((dim, widest), np.float64)
    shrink = 1.0 - relative
    query = np.empty(dim, np.float64)
    stack = np.empty(2 * 64 + 2, np.int64)  # depth first: at most one more entry per level (depth < 64)
    stack_bound = np.empty(stack.size, np.float64)
    best = np.empty(k, np.float64)
    best_index = np.empty(k, np.int64)
    none = np.iinfo(np.int64).max
    for q in range(rows.size):
        row = rows[q]
        own = row if exclude_self else -1
        for c in range(dim):
            query[c] = queries[row, c]
        best[:] = np.inf
        best_index[:] = none  # (inf, none) ranks after every real pair, even one at distance inf
        top = 0
        stack[0] = 0
        stack_bound[0] = 0.0
        while top >= 0:
            node = stack[top]
            bound = stack_bound[top]
            top -= 1
            if bound > best[last]:
                continue
            first = child[node]
            if first < 0:
                begin = start[node]
                count = stop[node] - begin
                for c in range(dim):
                    value = query[c]
                    for j in range(count):
                        diff = value - points[c, begin + j]
                        work[c, j] = diff * diff
                _halve(work, dim, size, count)
                for j in range(count):
                    value = work[0, j]
                    if value <= best[last] and order[begin + j] != own:
                        _insert(best, best_index, value, order[begin + j])
            else:
                near = _box_distance(box, first, query) * shrink - absolute
                far = _box_distance(box, first + 1, query) * shrink - absolute
                near_node, far_node = first, first + 1
                if far < near:
                    near, far = far, near
                    near_node, far_node = far_node, near_node
                if far <= best[last]:  # pushed first: visited after the nearer one (a bound, kept to skip it then)
                    top += 1
                    stack[top] = far_node
                    stack_bound[top] = far
                if near <= best[last]:
                    top += 1
                    stack[top] = near_node
                    stack_bound[top] = near
        out_value[q] = best
        for slot in range(k):
            out_index[q, slot] = -1 if best_index[slot] == none else best_index[slot]


def _select(work: np.ndarray, size: int, target: int) -> float:
    """The ``target``-th smallest (from 0) of ``work[:size]``, which is reordered (quickselect, median of three)."""
    _partition(work, None, 0, size - 1, target)
    return work[target]


def _smallest(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` smallest entries (values and column indices, in no particular order; ties: leftmost).

    A selection compares and branches at every entry; so it runs on a short list only. The minima of disjoint
    groups of entries bound the k-th smallest from above (the k-th smallest minimum has k groups, so k entries, at
    or below it): one branch-free pass computes the minima of 2k groups, a second collects the entries within the
    bound (about 1.4 k of a random row at k = 96 of 2,000), and the selection runs on those. The groups interleave
    (entry j in group j mod 2k), as in the tiled search: in spatial order neighbours sit side by side.
    """
    rows, cols = values.shape
    out_value = np.empty((rows, k), values.dtype)
    out_index = np.empty((rows, k), np.int64)
    groups = 2 * k if cols >= 8 * k else k  # more groups, a tighter bound: the k-th smallest of their minima
    group = np.empty(groups, values.dtype)
    listed = np.empty(cols, values.dtype)
    position = np.empty(cols, np.int64)
    work = np.empty(max(cols, groups), values.dtype)
    full = cols - cols % groups
    for i in range(rows):
        row = values[i]
        bound = np.inf
        if full >= 2 * groups:
            for g in range(groups):
                group[g] = row[g]
            for base in range(groups, full, groups):
                for g in range(groups):
                    value = row[base + g]
                    group[g] = value if value < group[g] else group[g]
            work[:groups] = group
            bound = _select(work, groups, k - 1)
        size = 0
        for j in range(cols):  # branch-free: every entry is written, the ones within the bound are kept
            listed[size] = row[j]
            position[size] = j
            size += row[j] <= bound
        work[:size] = listed[:size]
        kth = _select(work, size, k - 1)
        at = 0
        for q in range(size):
            if listed[q] < kth:
                out_value[i, at] = listed[q]
                out_index[i, at] = position[q]
                at += 1
        for q in range(size):  # then entries equal to it, left to right, until there are k
            if at == k:
                break
            if listed[q] == kth:
                out_value[i, at] = kth
                out_index[i, at] = position[q]
                at += 1
    return out_value, out_index


def _list_members(
    neighbor: np.ndarray, rows: np.ndarray, member: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each ``rows[b, i]``, the list position of its r-th listed neighbour with ``member[b, neighbour]``.

    Returns (position, found), each ``(B, R, len(ranks))``: position 0 and found False where the list holds fewer
    than r members. The scan of a list stops at the largest rank.
    """
    batch, count = rows.shape
    width = neighbor.shape[1]
    last = ranks.max()
    position = np.zeros((batch, count, ranks.size), np.int64)
    found = np.zeros((batch, count, ranks.size), np.bool_)
    for b in range(batch):
        inside = member[b]
        for i in range(count):
            listed = neighbor[rows[b, i]]
            seen = 0
            for q in range(width):
                if inside[listed[q]]:
                    seen += 1
                    for r in range(ranks.size):
                        if ranks[r] == seen:
                            position[b, i, r] = q
                            found[b, i, r] = True
                    if seen == last:
                        break
    return position, found


if numba is not None:
    _jit = numba.njit(nogil=True, cache=True, boundscheck=False)
    _below_compiled = _jit(_below)
    _small_product_compiled = _jit(_small_product)
    _merge_smallest_compiled = _jit(_merge_smallest)
    _pair_distances_compiled = _jit(_pair_distances)
    _partition = _jit(_partition)
    _select = _jit(_select)
    _list_members_compiled = _jit(_list_members)
    _smallest_compiled = _jit(_smallest)
    _shell = _jit(_shell)
    _insert = _jit(_insert)
    _cell_sort_compiled = _jit(_cell_sort)
    _grid_query_compiled = _jit(_grid_query)
    _tree_build_compiled = _jit(_tree_build)
    _halve = _jit(_halve)
    _box_distance = _jit(_box_distance)
    _tree_query_compiled = _jit(_tree_query)


def below(lower: Tensor, row_cap: Tensor, col_cap: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The compiled filter on CPU tensors: ``lower`` (float32, contiguous), the float32 caps of its rows and columns."""
    out = _below_compiled(lower.numpy(), row_cap.contiguous().numpy(), col_cap.contiguous().numpy())
    return tuple(torch.from_numpy(x) for x in out)  # type: ignore[return-value]


def small_product(row_factors: Tensor, col_factors: Tensor, bounds: tuple[int, int, int, int], out: Tensor) -> None:
    """The compiled product of a small inner dimension on CPU float32 tensors (see :func:`_small_product`)."""
    _small_product_compiled(row_factors.numpy(), col_factors.numpy(), bounds, out.numpy())


def merge_smallest(best: Tensor, points: Tensor, values: Tensor) -> None:
    """The compiled merge on CPU tensors: ``best`` ``(n, k)`` ascending rows, updated in place."""
    _merge_smallest_compiled(best.numpy(), points.contiguous().numpy(), values.to(best.dtype).contiguous().numpy())


def pair_distances(a: Tensor, a_index: Tensor, b: Tensor, b_index: Tensor) -> Tensor:
    """The compiled exact pair distances on CPU tensors (``a``, ``b``: float32 or float64 rows)."""
    return torch.from_numpy(
        _pair_distances_compiled(
            a.contiguous().numpy(), a_index.contiguous().numpy(), b.contiguous().numpy(), b_index.contiguous().numpy()
        )
    )


def smallest(values: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The compiled row-wise selection on a CPU tensor: ``(values, indices)`` of each row's k smallest."""
    value, index = _smallest_compiled(values.contiguous().numpy(), k)
    return torch.from_numpy(value), torch.from_numpy(index)


def list_members(neighbor: Tensor, rows: Tensor, member: Tensor, ranks: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """The compiled list scan of the intervals on CPU tensors (see ``bootstrap._members_in_list``)."""
    position, found = _list_members_compiled(
        neighbor.contiguous().numpy(),
        rows.contiguous().numpy(),
        member.contiguous().numpy(),
        np.asarray(ranks, dtype=np.int64),
    )
    return torch.from_numpy(position), torch.from_numpy(found)


def grid_query(*arrays: Any) -> None:
    """The compiled shell search of :mod:`faithful.functional._grid` (the arguments of :func:`_grid_query`)."""
    _grid_query_compiled(*arrays)


def cell_sort(points: np.ndarray, edges: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The compiled counting sort of points into the cells of :mod:`faithful.functional._grid`: ``(start, order)``."""
    return _cell_sort_compiled(points, edges, shape)


def tree_build(points: np.ndarray, leaf_size: int) -> tuple[np.ndarray, ...]:
    """The compiled k-d tree build of :mod:`faithful.functional._ctree` (see :func:`_tree_build`)."""
    return _tree_build_compiled(points, leaf_size)


def tree_query(*arrays: Any) -> None:
    """The compiled k-d tree search of :mod:`faithful.functional._ctree` (the arguments of :func:`_tree_query`)."""
    _tree_query_compiled(*arrays)

"""The ``kd_tree`` algorithm's grid of cells at d <= 4 (numba): exact against the brute force over all pairs, the
same bits as the tree, and a clean hand-over to the tree where cells would crowd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faithful.functional import _grid, _kernels, alpha_precision_beta_recall_authenticity, kdtree
from tests.test_neighbors import _assert_same, _brute_force

pytestmark = pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")


def _grid_cases() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(21)
    lattice2 = torch.randint(0, 6, (300, 2), generator=gen).double()  # duplicates and exact ties everywhere
    lattice3 = torch.randint(0, 4, (300, 3), generator=gen).float()
    far = 1e4 + torch.randn(250, 3, generator=gen, dtype=torch.float64)
    lattice4 = torch.randint(0, 3, (400, 4), generator=gen).double()
    far4 = 1e4 + torch.randn(600, 4, generator=gen, dtype=torch.float64)
    return {
        "d = 1": (torch.randn(400, 1, generator=gen), torch.randn(300, 1, generator=gen)),
        "d = 1, ties": (torch.randint(0, 9, (200, 1), generator=gen).float(), torch.randn(90, 1, generator=gen)),
        "d = 2": (torch.randn(700, 2, generator=gen), 0.7 * torch.randn(500, 2, generator=gen) + 0.2),
        "d = 2, lattice": (lattice2, torch.cat([lattice2[:50], torch.randint(-1, 7, (80, 2), generator=gen).double()])),
        "d = 3": (torch.randn(900, 3, generator=gen, dtype=torch.float64), torch.randn(400, 3, generator=gen).double()),
        "d = 3, lattice": (lattice3, torch.randint(0, 5, (120, 3), generator=gen).float()),
        # queries far outside the indexed points: their shells grow until every cell is visited
        "d = 2, far queries": (torch.randn(300, 2, generator=gen), torch.randn(60, 2, generator=gen) * 30 + 100),
        "d = 3, far, near-copies": (far, torch.cat([far[:60] + 1e-7 * torch.randn(60, 3, generator=gen), far[60:90]])),
        "d = 4": (torch.randn(1200, 4, generator=gen), 1.2 * torch.randn(500, 4, generator=gen)),
        "d = 4, lattice": (lattice4, torch.cat([lattice4[:40], torch.randint(0, 4, (100, 4), generator=gen).double()])),
        "d = 4, far queries": (far4, torch.randn(50, 4, generator=gen, dtype=torch.float64) * 10 + 1e4 + 30),
        "d = 2, clusters": (
            torch.cat([torch.randn(200, 2, generator=gen) * 0.01 + c for c in (-50.0, 0.0, 50.0)]),
            torch.randn(150, 2, generator=gen) * 20,
        ),
    }


@pytest.mark.parametrize("case", list(_grid_cases()))
def test_grid_matches_brute_force_over_all_pairs(case):
    real, synthetic = _grid_cases()[case]
    index = kdtree.build_tree(real)
    assert index.grid is not None and index.tree is None  # the grid, not the tree, answers
    for k in (1, 3, 5):
        _assert_same(
            (kdtree.tree_real_knn(index, k), kdtree.tree_cross_nearest(index, synthetic)),
            _brute_force(real, synthetic, k),
        )


@pytest.mark.parametrize("case", list(_grid_cases()))
def test_grid_gives_the_bits_of_the_tree(monkeypatch, case):
    real, synthetic = _grid_cases()[case]
    grid = kdtree.build_tree(real)
    on = kdtree.tree_real_knn(grid, 4), kdtree.tree_cross_nearest(grid, synthetic)
    monkeypatch.setattr(_kernels, "AVAILABLE", False)
    tree = kdtree.build_tree(real)
    assert tree.grid is None and tree.tree is not None
    off = kdtree.tree_real_knn(tree, 4), kdtree.tree_cross_nearest(tree, synthetic)
    assert torch.equal(on[0], off[0])
    for a, b in zip(on[1], off[1], strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_grid_row_shares_and_threads(monkeypatch, workers):
    monkeypatch.setattr(_grid, "_BLOCK", 64)  # many blocks shared among the threads
    real, synthetic = _grid_cases()["d = 3"]
    index = kdtree.build_tree(real)
    whole = kdtree.tree_real_knn(index, 3, workers=1)
    assert torch.equal(kdtree.tree_real_knn(index, 3, workers=workers), whole)
    assert torch.equal(kdtree.tree_real_knn(index, 3, rows=slice(100, 333), workers=workers), whole[100:333])
    cross = kdtree.tree_cross_nearest(index, synthetic, workers=workers, real_rows=slice(0, 450))
    full = kdtree.tree_cross_nearest(index, synthetic, workers=1)
    assert torch.equal(cross.real_to_synthetic[:450], full.real_to_synthetic[:450])
    assert bool(torch.isinf(cross.real_to_synthetic[450:]).all())
    assert torch.equal(cross.synthetic_to_real_index, full.synthetic_to_real_index)


def test_grid_declines_where_cells_would_crowd():
    gen = torch.Generator().manual_seed(3)
    line = torch.randn(2000, 1, generator=gen).repeat(1, 2)  # every point on the diagonal: a few cells hold all
    assert _grid.build(line) is None
    assert _grid.build(torch.ones(500, 3)) is None  # all identical
    assert _grid.build(torch.randn(500, 5, generator=gen)) is None  # beyond d = 4: the tree
    assert _grid.build(torch.randn(500, 2, generator=gen).half()) is None  # no compiled distance for half
    assert _grid.build(torch.randn(500, 2, generator=gen)) is not None
    # the tree takes over, exactly
    synthetic = torch.randn(300, 2, generator=gen)
    index = kdtree.build_tree(line)
    assert index.grid is None
    _assert_same(
        (kdtree.tree_real_knn(index, 3), kdtree.tree_cross_nearest(index, synthetic)), _brute_force(line, synthetic, 3)
    )


def test_grid_cells_hold_a_few_points_each():
    grid = _grid.build(torch.randn(20000, 2, generator=torch.Generator().manual_seed(4)))
    assert grid is not None
    counts = np.diff(grid.start)
    assert counts.sum() == 20000 and sorted(grid.order.tolist()) == list(range(20000))
    assert 2 <= counts.mean() <= 8 and counts.max() <= 40


def test_kd_tree_flags_equal_brute_flags_through_the_grid():
    real, synthetic = _grid_cases()["d = 2, lattice"]
    tree = alpha_precision_beta_recall_authenticity(real, synthetic, k=3, sample_level=True, algorithm="kd_tree")
    brute = alpha_precision_beta_recall_authenticity(real, synthetic, k=3, sample_level=True, algorithm="brute")
    for key, value in brute.items():
        assert torch.equal(tree[key], value), key


@pytest.mark.parametrize("scale", [2.0**600, 2.0**-600])
def test_grid_where_squares_overflow_or_underflow(scale):
    # Every distance is inf (or 0): every pair ties, and ties go to the smallest index, as in the brute force.
    gen = torch.Generator().manual_seed(8)
    real = torch.randn(80, 2, generator=gen, dtype=torch.float64) * scale
    synthetic = torch.randn(50, 2, generator=gen, dtype=torch.float64) * scale
    index = kdtree.build_tree(real)
    assert index.grid is not None
    _assert_same(
        (kdtree.tree_real_knn(index, 2), kdtree.tree_cross_nearest(index, synthetic)), _brute_force(real, synthetic, 2)
    )


@pytest.mark.parametrize("dim", [2, 4])
def test_queries_far_from_the_cells_are_answered_by_the_tree(monkeypatch, dim):
    # Far from the points a query's gap to the unvisited cells grows by one cell per ring while its distances stay
    # large: after a few rings the grid hands it to a tree. Exact either way.
    gen = torch.Generator().manual_seed(dim)
    real = torch.randn(4000, dim, generator=gen)
    synthetic = torch.randn(300, dim, generator=gen)
    synthetic[:40, 0] += 100.0
    built = []
    tree_index = kdtree._tree_index
    monkeypatch.setattr(kdtree, "_tree_index", lambda data: built.append(data.shape) or tree_index(data))
    index = kdtree.build_tree(real)
    assert index.grid is not None and not built
    _assert_same(
        (kdtree.tree_real_knn(index, 2), kdtree.tree_cross_nearest(index, synthetic)), _brute_force(real, synthetic, 2)
    )
    assert tuple(real.shape) in built  # the far synthetic rows went to a tree over the real samples
    kdtree.tree_cross_nearest(index, synthetic)  # the next evaluation: the index keeps that tree
    assert built.count(tuple(real.shape)) == 1
    _, _, done = _grid.query(index.grid, synthetic, 1, np.arange(synthetic.shape[0]), False, 1)
    assert not done.all()


def test_rings_are_limited(monkeypatch):
    # With no ring beyond the query's own cell every row needs the tree, and the answers do not change.
    monkeypatch.setattr(_grid, "_MAX_RING", dict.fromkeys(range(1, 5), 0))
    real, synthetic = _grid_cases()["d = 3, lattice"]
    index = kdtree.build_tree(real)
    _assert_same(
        (kdtree.tree_real_knn(index, 3), kdtree.tree_cross_nearest(index, synthetic)), _brute_force(real, synthetic, 3)
    )

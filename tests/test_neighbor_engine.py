"""The brute search's machinery: spatial order, skipped tiles, the compiled filter and its torch fallback.

Every path must give the same bits as the float64 brute force over all pairs (tests/test_neighbors.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from faithful.functional import _blocks, _kernels, neighbors
from tests.test_neighbors import _assert_same, _brute_force, _cases, _search

FILTERS = ["torch", pytest.param("compiled", marks=pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba"))]


@pytest.fixture
def use_filter(monkeypatch, request):
    monkeypatch.setattr(_kernels, "AVAILABLE", request.param == "compiled")
    return request.param


@pytest.mark.parametrize("use_filter", FILTERS, indirect=True)
@pytest.mark.parametrize("case", list(_cases()))
@pytest.mark.parametrize(("tile", "chunk_size"), [(8, None), (8, 3), (32, 5), (2048, None)])
def test_both_filters_match_brute_force(monkeypatch, use_filter, case, tile, chunk_size):
    monkeypatch.setattr(neighbors, "_TILE", tile)
    real, synthetic = _cases()[case]
    for k in (1, 4):
        _assert_same(_search(real, synthetic, k, chunk_size), _brute_force(real, synthetic, k))


def _clusters(num: int, dim: int, seed: int) -> torch.Tensor:
    """Tight clusters far apart: most tiles of the distance matrix are far from most bands."""
    centers = 100.0 * torch.randn(8, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    return centers[torch.randint(8, (num,), generator=gen)] + torch.randn(num, dim, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("use_filter", FILTERS, indirect=True)
def test_far_tiles_are_skipped_and_the_answer_stays_exact(monkeypatch, use_filter):
    monkeypatch.setattr(neighbors, "_TILE", 32)
    real, synthetic = _clusters(400, 3, 1), _clusters(300, 3, 2)
    products = []
    lower = neighbors._Tiles.lower
    monkeypatch.setattr(neighbors._Tiles, "lower", lambda self, *tile: products.append(tile) or lower(self, *tile))
    got = _search(real, synthetic, 5, 16)
    skipping = len(products)
    # The same search with every gap 0 (nothing can be skipped): same order, same neighbourhood bounds.
    layout = _blocks.layout

    def no_gaps(*args):
        found = layout(*args)
        return found._replace(gaps=[[0.0] * len(row) for row in found.gaps])

    monkeypatch.setattr(_blocks, "layout", no_gaps)
    products.clear()
    full = _search(real, synthetic, 5, 16)
    assert skipping < 0.75 * len(products)
    monkeypatch.setattr(neighbors._Tiles, "lower", lower)
    _assert_same(got, _brute_force(real, synthetic, 5))
    _assert_same(full, got)


def test_spatial_order_and_index_order_give_the_same_bits(monkeypatch):
    for case, (real, synthetic) in _cases().items():
        ordered = _search(real, synthetic, 3, 5)
        monkeypatch.setattr(neighbors, "_orders", lambda prepared: False)
        plain = _search(real, synthetic, 3, 5)
        monkeypatch.undo()
        _assert_same(ordered, plain), case


def test_permuting_the_real_rows_permutes_the_answers():
    gen = torch.Generator().manual_seed(3)
    real, synthetic = torch.randn(300, 6, generator=gen), torch.randn(200, 6, generator=gen)
    perm = torch.randperm(300, generator=gen)
    knn, cross = _search(real, synthetic, 5, None)
    knn_p, cross_p = _search(real[perm], synthetic, 5, None)
    assert torch.equal(knn_p, knn[perm])
    assert torch.equal(cross_p.real_to_synthetic, cross.real_to_synthetic[perm])
    assert torch.equal(cross_p.real_to_synthetic_index, cross.real_to_synthetic_index[perm])
    assert torch.equal(cross_p.synthetic_to_real, cross.synthetic_to_real)
    assert torch.equal(perm[cross_p.synthetic_to_real_index], cross.synthetic_to_real_index)


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")
def test_compiled_filter_finds_every_entry_within_the_caps():
    gen = torch.Generator().manual_seed(4)
    lower = torch.randn(37, 53, generator=gen)
    lower[3, 5] = lower[10, 0] = float("inf")  # self entries never pass a finite cap
    row_cap = torch.randn(37, generator=gen) - 1.0
    col_cap = torch.randn(53, generator=gen) - 1.0
    col_cap[:7] = -float("inf")  # columns outside the search's share
    row_i, row_j, col_i, col_j = _kernels.below(lower, row_cap, col_cap)
    expect_rows = torch.nonzero(lower <= row_cap.unsqueeze(1))
    expect_cols = torch.nonzero(lower <= col_cap.unsqueeze(0))
    assert torch.equal(torch.stack([row_i, row_j], dim=1), expect_rows)  # both row-major
    assert torch.equal(torch.stack([col_i, col_j], dim=1), expect_cols)
    assert int(col_j.min()) >= 7


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_merge_keeps_the_k_smallest(monkeypatch, dtype):
    gen = torch.Generator().manual_seed(5)
    values = torch.randint(0, 6, (400,), generator=gen).to(dtype)  # many ties
    points = torch.randint(0, 30, (400,), generator=gen)
    start = torch.sort(torch.rand(30, 4, generator=gen, dtype=dtype) * 8, dim=1).values
    start[:5] = float("inf")  # rows with no value yet
    compiled = start.clone()
    neighbors._merge_smallest(compiled, points, values)
    monkeypatch.setattr(_kernels, "AVAILABLE", False)
    plain = start.clone()
    neighbors._merge_smallest(plain, points, values)
    assert torch.equal(compiled, plain)


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")
@pytest.mark.parametrize("dim", [0, 1, 2, 3, 5, 8, 13, 64, 100, 257])
@pytest.mark.parametrize(
    "dtypes", [(torch.float32, torch.float32), (torch.float64, torch.float64), (torch.float32, torch.float64)]
)
def test_compiled_pair_distances_have_the_same_bits(monkeypatch, dim, dtypes):
    gen = torch.Generator().manual_seed(dim)
    a = (1e3 + torch.randn(50, dim, generator=gen, dtype=torch.float64)).to(dtypes[0])
    b = (1e3 + torch.randn(40, dim, generator=gen, dtype=torch.float64)).to(dtypes[1])
    a_index, b_index = torch.randint(50, (300,), generator=gen), torch.randint(40, (300,), generator=gen)
    compiled = neighbors._pair_distances(a, a_index, b, b_index)
    monkeypatch.setattr(_kernels, "AVAILABLE", False)
    assert torch.equal(compiled, neighbors._pair_distances(a, a_index, b, b_index))
    # and the float64 truth, up to the rounding of a sum
    exact = (a[a_index].double() - b[b_index].double()).square().sum(dim=1)
    assert torch.allclose(compiled, exact, rtol=1e-13, atol=0)


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")
@pytest.mark.parametrize(("cols", "k"), [(2000, 96), (2000, 48), (300, 96), (100, 96), (97, 96), (50, 1), (7, 7)])
@pytest.mark.parametrize("values", ["random", "ties", "sorted"])
def test_compiled_selection_finds_the_k_smallest(cols, k, values):
    gen = torch.Generator().manual_seed(cols + k)
    x = torch.randn(30, cols, generator=gen)
    if values == "ties":
        x = torch.randint(0, 5, (30, cols), generator=gen).to(torch.float32)
    elif values == "sorted":  # neighbours side by side, as in spatial order
        x = torch.sort(x, dim=1, descending=True).values
    x[torch.arange(min(30, cols)), torch.arange(min(30, cols))] = float("inf")  # self entries
    value, index = _kernels.smallest(x, k)
    assert value.shape == index.shape == (30, k)
    assert torch.equal(x.gather(1, index), value)  # values at the indices
    assert all(len(set(row)) == k for row in index.tolist())  # k distinct entries
    assert torch.equal(torch.sort(value, dim=1).values, torch.topk(x, k, dim=1, largest=False).values)


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")
def test_compiled_list_scan_finds_the_ranked_members():
    gen = torch.Generator().manual_seed(6)
    neighbor = torch.stack([torch.randperm(80, generator=gen)[:20] for _ in range(60)])
    member = torch.rand(3, 80, generator=gen) < 0.3
    rows = torch.randint(60, (3, 25), generator=gen)
    position, found = _kernels.list_members(neighbor, rows, member, (1, 3))
    for b in range(3):
        for i in range(25):
            inside = [q for q, other in enumerate(neighbor[rows[b, i]].tolist()) if member[b, other]]
            for r, rank in enumerate((1, 3)):
                assert bool(found[b, i, r]) == (len(inside) >= rank)
                assert int(position[b, i, r]) == (inside[rank - 1] if len(inside) >= rank else 0)


def test_numba_can_be_switched_off_by_the_environment():
    code = "from faithful.functional import _kernels; print(_kernels.AVAILABLE)"
    env = {**os.environ, "FAITHFUL_NO_NUMBA": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""The exact neighbour search against a brute force over all pairs, with tiles small enough for every path to run.

The brute force uses the library's own exact pair distance (float64 direct differences, fixed summation order), so
neighbours, ties and distances must agree bit for bit, whatever the tile and chunk sizes.
"""

from __future__ import annotations

import pytest
import torch

from faithful.functional import neighbors


def _all_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(len(a), len(b)) exact squared distances, computed pair by pair like the library does."""
    rows = torch.arange(a.shape[0]).repeat_interleave(b.shape[0])
    cols = torch.arange(b.shape[0]).repeat(a.shape[0])
    return neighbors.squared_distances(a[rows], b[cols]).view(a.shape[0], b.shape[0])


def _nearest(distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row minima and, among equal minima, the smallest column."""
    best = distances.min(dim=1).values
    index = torch.where(distances == best.unsqueeze(1), torch.arange(distances.shape[1]), distances.shape[1])
    return best, index.min(dim=1).values


def _brute_force(real: torch.Tensor, synthetic: torch.Tensor, k: int):
    within = _all_pairs(real, real)
    within.fill_diagonal_(float("inf"))  # self excluded by index, duplicates stay
    knn = within.sort(dim=1).values[:, :k]
    cross = _all_pairs(real, synthetic)
    r2s, r2s_index = _nearest(cross)
    s2r, s2r_index = _nearest(cross.T)
    return knn, neighbors.CrossNeighbors(r2s, r2s_index, s2r, s2r_index)


def _search(real: torch.Tensor, synthetic: torch.Tensor, k: int, chunk_size: int | None):
    origin = real.to(torch.float64).mean(dim=0)
    prepared_real, prepared_synthetic = neighbors.prepare(real, origin), neighbors.prepare(synthetic, origin)
    knn = neighbors.real_knn(prepared_real, k, chunk_size)
    return knn, neighbors.cross_nearest(prepared_real, prepared_synthetic, chunk_size)


def _assert_same(got, expected) -> None:
    assert torch.equal(got[0], expected[0]), "k nearest real distances"
    for name, value, want in zip(expected[1]._fields, got[1], expected[1], strict=True):
        assert torch.equal(value, want), name


def _cases() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(11)
    lattice = torch.randint(0, 3, (90, 3), generator=gen).double()  # duplicates and exact ties everywhere
    far = 1e4 + torch.randn(70, 6, generator=gen, dtype=torch.float64)
    return {
        "gauss": (torch.randn(80, 5, generator=gen), torch.randn(65, 5, generator=gen)),
        "lattice": (lattice, torch.cat([lattice[:20], torch.randint(0, 4, (40, 3), generator=gen).double()])),
        "far, near-duplicates": (far, torch.cat([far[:30] + 1e-6 * torch.randn(30, 6, generator=gen), far[30:50]])),
        "half": (torch.randn(60, 4, generator=gen).half(), torch.randn(50, 4, generator=gen).half()),
    }


@pytest.mark.parametrize("case", list(_cases()))
@pytest.mark.parametrize(("tile", "chunk_size"), [(7, None), (7, 3), (16, 1), (16, 40), (2048, None), (2048, 9)])
def test_matches_brute_force_over_all_pairs(monkeypatch, case, tile, chunk_size):
    monkeypatch.setattr(neighbors, "_TILE", tile)
    real, synthetic = _cases()[case]
    for k in (1, 3):
        _assert_same(_search(real, synthetic, k, chunk_size), _brute_force(real, synthetic, k))


def test_all_identical_points_overflow_the_candidate_store(monkeypatch):
    # Every pair ties, so every pair is a candidate: the store must resolve exactly in bounded steps.
    monkeypatch.setattr(neighbors, "_TILE", 8)
    real, synthetic = torch.ones(70, 3), torch.ones(50, 3)
    knn, cross = _search(real, synthetic, 4, 5)
    assert torch.equal(knn, torch.zeros(70, 4, dtype=torch.float64))
    assert torch.equal(cross.real_to_synthetic_index, torch.zeros(70, dtype=torch.int64))
    assert torch.equal(cross.synthetic_to_real_index, torch.zeros(50, dtype=torch.int64))


@pytest.mark.parametrize("scale", [2.0**70, 2.0**-70, 1e20, 1e-25])
def test_any_scale_gives_the_same_neighbours(monkeypatch, scale):
    # float32 squares overflow beyond ~1e19 and underflow below ~1e-19: the filter works on a rescaled copy.
    monkeypatch.setattr(neighbors, "_TILE", 16)
    gen = torch.Generator().manual_seed(5)
    real, synthetic = torch.randn(60, 4, generator=gen, dtype=torch.float64), torch.randn(45, 4, generator=gen)
    real, synthetic = real * scale, synthetic.double() * scale
    _assert_same(_search(real, synthetic, 2, None), _brute_force(real, synthetic, 2))

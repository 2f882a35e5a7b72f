"""Several tiles in both directions (n, m > one tile) against a chunked float64 brute force, with ties."""

from __future__ import annotations

import numpy as np
import torch

from faithful.functional import alpha_precision_beta_recall_authenticity


def _brute(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Direct differences, 256 rows at a time; argmin takes the first (smallest) index on ties."""
    n = len(real)
    knn = np.empty((n, k))
    j_star = np.empty(n, dtype=np.int64)
    to_synthetic = np.empty(n)
    best_real = np.full(len(synthetic), np.inf)
    i_star = np.full(len(synthetic), -1)
    for s in range(0, n, 256):
        block = real[s : s + 256]
        d_rr = ((block[:, None, :] - real[None, :, :]) ** 2).sum(-1)
        d_rr[np.arange(len(block)), np.arange(s, s + len(block))] = np.inf
        knn[s : s + 256] = np.sort(d_rr, axis=1)[:, :k]
        d_rg = ((block[:, None, :] - synthetic[None, :, :]) ** 2).sum(-1)
        j_star[s : s + 256] = d_rg.argmin(axis=1)
        to_synthetic[s : s + 256] = d_rg.min(axis=1)
        col_min, col_arg = d_rg.min(axis=0), d_rg.argmin(axis=0) + s
        better = col_min < best_real  # earlier blocks win ties: smaller index
        best_real = np.where(better, col_min, best_real)
        i_star = np.where(better, col_arg, i_star)
    covered = to_synthetic <= knn[:, k - 1]
    authentic = best_real > knn[i_star, 0]
    return {"covered": covered, "authentic": authentic, "nearest_real_index": i_star, "distance": np.sqrt(best_real)}


def test_many_tiles_with_ties_match_brute_force():
    rng = np.random.default_rng(21)
    # A coarse lattice far from the origin: duplicates and equal distances in every tile.
    real = 1e3 + rng.integers(0, 6, size=(4500, 3)).astype(np.float64)
    synthetic = np.concatenate([real[rng.integers(0, 4500, 600)], 1e3 + rng.integers(0, 7, size=(3700, 3))])
    expected = _brute(real, synthetic, k=5)
    for chunk_size in (None, 1000):
        result = alpha_precision_beta_recall_authenticity(
            torch.tensor(real), torch.tensor(synthetic), sample_level=True, chunk_size=chunk_size
        )
        for key in ("covered", "authentic", "nearest_real_index"):
            np.testing.assert_array_equal(result[key].numpy(), expected[key], err_msg=key)
        np.testing.assert_allclose(result["distance_to_real"].numpy(), expected["distance"], atol=1e-12)


def test_many_tiles_continuous_data_match_brute_force():
    rng = np.random.default_rng(22)
    real = rng.standard_normal((4200, 6))
    synthetic = np.concatenate([real[:300] + 1e-7 * rng.standard_normal((300, 6)), rng.standard_normal((4000, 6))])
    result = alpha_precision_beta_recall_authenticity(
        torch.tensor(real, dtype=torch.float32), torch.tensor(synthetic, dtype=torch.float32), k=3, sample_level=True
    )
    expected = _brute(real.astype(np.float32).astype(np.float64), synthetic.astype(np.float32).astype(np.float64), 3)
    for key in ("covered", "authentic", "nearest_real_index"):
        np.testing.assert_array_equal(result[key].numpy(), expected[key], err_msg=key)

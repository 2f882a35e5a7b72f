"""A slow, obviously-right float64 reference: full distance matrices, direct differences, numpy quantiles.

Shared by the tests; nothing here is clever on purpose.
"""

from __future__ import annotations

import numpy as np


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full (len(a), len(b)) Euclidean distance matrix from direct differences."""
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def smallest_level(values: np.ndarray, reference: np.ndarray, iterations: int = 64) -> np.ndarray:
    """min{a in [0, 1] : v <= quantile(reference, a)} by bisection on numpy's quantile; inf if none."""
    out = np.full(values.shape, np.inf)
    inside = values <= reference.max()
    lo = np.zeros(inside.sum())
    hi = np.ones(inside.sum())
    v = values[inside]
    for _ in range(iterations):
        mid = (lo + hi) / 2
        ok = v <= np.quantile(reference, mid)
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    out[inside] = np.where(v <= reference.min(), 0.0, hi)
    return out


def integrated(levels: np.ndarray, total: int, points: int = 200_001) -> float:
    """1 - 2 ∫|F(a) - a| da by the midpoint rule on a fine grid (error below 1e-5)."""
    a = (np.arange(points) + 0.5) / points
    finite = np.sort(levels[np.isfinite(levels)])
    curve = np.searchsorted(finite, a, side="right") / total
    return 1.0 - 2.0 * np.abs(curve - a).mean()


def brute_force(real, synthetic, k: int = 5, center=None, num_thresholds: int = 101) -> dict[str, np.ndarray]:
    r = np.asarray(real, dtype=np.float64)
    g = np.asarray(synthetic, dtype=np.float64)
    n, m = len(r), len(g)
    d_rr = pairwise(r, r)
    d_rr[np.arange(n), np.arange(n)] = np.inf  # self excluded by index, duplicates stay
    nnd = np.sort(d_rr, axis=1)[:, :k]
    d_rg = pairwise(r, g)
    j_star = d_rg.argmin(axis=1)  # numpy's argmin takes the first: ties go to the smallest index
    i_star = d_rg.argmin(axis=0)
    c_r = r.mean(0) if center is None else np.asarray(center, dtype=np.float64)
    real_to_center = np.linalg.norm(r - c_r, axis=1)
    synthetic_to_center = np.linalg.norm(g - c_r, axis=1)
    alpha_level = smallest_level(synthetic_to_center, real_to_center)
    own = np.linalg.norm(g - g.mean(0), axis=1)
    matched = own[j_star]
    in_ball = d_rg[np.arange(n), j_star] <= nnd[:, k - 1]
    beta_level = np.where(in_ball, smallest_level(matched, own), np.inf)
    authentic = d_rg[i_star, np.arange(m)] > nnd[i_star, 0]
    grid = np.linspace(0, 1, num_thresholds)
    alpha_curve = np.array([(synthetic_to_center <= np.quantile(real_to_center, a)).mean() for a in grid])
    beta_curve = np.array([(in_ball & (matched <= np.quantile(own, b))).mean() for b in grid])
    return {
        "alpha_precision": integrated(alpha_level, m),
        "beta_recall": integrated(beta_level, n),
        "authenticity": authentic.mean(),
        "thresholds": grid,
        "alpha_precision_curve": alpha_curve,
        "beta_recall_curve": beta_curve,
        "alpha_level": alpha_level,
        "authentic": authentic,
        "distance_to_real": d_rg[i_star, np.arange(m)],
        "nearest_real_index": i_star,
        "covered": in_ball,
        "beta_level": beta_level,
    }

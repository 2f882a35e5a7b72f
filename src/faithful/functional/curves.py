"""α/β levels, curves on a grid, and the exact integrals IPα and IRβ.

Both curves have the same structure: a sample counts at level a when its distance ``s`` is within the
a-quantile ``Q_a(D)`` of a reference set of distances ``D`` (linear interpolation between order
statistics, numpy's default). ``Q_a`` is continuous and non-decreasing in ``a``, so each sample has a
*level* ``a* = min{a : s <= Q_a(D)}`` and the curve is the empirical distribution function of the
levels. Its deviation from the diagonal then integrates in closed form, piece by piece.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "curve_on_grid",
    "deviation_integral",
    "grid_weight",
    "levels",
    "quantile_sorted",
    "search_sorted",
    "sort_values",
]

_NUMPY_DTYPES = (torch.float32, torch.float64)


def sort_values(x: Tensor) -> Tensor:
    """``torch.sort(x).values`` of a 1-D tensor; on the CPU numpy's vectorised sort, about 8× faster than torch's
    there (the same values: sorting is exact)."""
    if x.device.type == "cpu" and x.dtype in _NUMPY_DTYPES:
        return torch.from_numpy(np.sort(x.detach().numpy()))
    return torch.sort(x).values


def search_sorted(sorted_sequence: Tensor, values: Tensor, right: bool) -> Tensor:
    """``torch.searchsorted`` for 1-D tensors of one dtype; numpy's on the CPU (the same positions, faster)."""
    if values.device.type == "cpu" and values.dtype in _NUMPY_DTYPES and sorted_sequence.dtype == values.dtype:
        side = "right" if right else "left"
        found = np.searchsorted(sorted_sequence.detach().numpy(), values.detach().numpy(), side=side)  # type: ignore[call-overload]
        return torch.from_numpy(found)
    return torch.searchsorted(sorted_sequence, values, right=right)


def quantile_sorted(sorted_values: Tensor, q: Tensor) -> Tensor:
    """Q_q of an ascending 1-D tensor, linear interpolation, numerically as numpy computes it.

    numpy's lerp is ``a + (b - a) t`` for ``t < 0.5`` and ``b - (b - a)(1 - t)`` otherwise; following it
    keeps counts at grid points identical to the authors' code.
    """
    n = sorted_values.numel()
    position = q.to(torch.float64) * (n - 1)
    below = torch.floor(position).clamp(0, n - 1).long()
    above = (below + 1).clamp(max=n - 1)
    t = position - below
    a = sorted_values[below]
    b = sorted_values[above]
    diff = b - a
    return torch.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def levels(values: Tensor, sorted_reference: Tensor) -> Tensor:
    """For each value s, the smallest level a in [0, 1] with ``s <= Q_a(reference)``; inf if none.

    ``s <= min`` gives 0; ``s > max`` gives inf (outside every quantile ball). Otherwise ``s`` lies in
    a piece ``D_l < s <= D_(l+1)`` of the piecewise-linear quantile function and the level inverts it.
    """
    n = sorted_reference.numel()
    values = values.to(torch.float64)
    ref = sorted_reference.to(torch.float64)
    count_below = search_sorted(ref, values, right=False)  # #{D < s}
    out = torch.full_like(values, math.inf)
    out[count_below == 0] = 0.0
    inside = (count_below > 0) & (count_below < n)
    if n > 1 and bool(inside.any()):
        lo = count_below[inside] - 1
        d_lo = ref[lo]
        d_hi = ref[lo + 1]  # > d_lo, since D_lo < s <= D_hi
        fraction = (values[inside] - d_lo) / (d_hi - d_lo)
        out[inside] = ((lo.to(torch.float64) + fraction) / (n - 1)).clamp(0.0, 1.0)
    return out


def grid_weight(protocol: str, grid: Tensor) -> float:
    """``w`` in the published codes' score ``1 - w · Σ_grid |curve - grid|`` (protocols other than "paper").

    The authors' code ("reference") takes a Riemann sum of ``2 ∫ |curve - a| da`` with step ``1 / (N - 1)``,
    so ``w = 2 / (N - 1)``; synthcity ("synthcity") divides by ``Σ grid`` (``N / 2`` on ``linspace(0, 1, N)``),
    so ``w = 1 / Σ grid`` and its score is ``1 - (1 - reference) · (N - 1) / N``.
    """
    if protocol == "synthcity":
        return 1.0 / float(grid.sum())
    return 2.0 / (grid.numel() - 1)


def curve_on_grid(values: Tensor, sorted_reference: Tensor, grid: Tensor, total: int) -> Tensor:
    """Share of ``values`` (out of ``total``) with ``value <= Q_a(reference)``, at each grid point a.

    ``values`` may hold ``inf`` for samples that never count.
    """
    radii = quantile_sorted(sorted_reference.to(torch.float64), grid)
    sorted_values = sort_values(values.to(torch.float64))
    counts = search_sorted(sorted_values, radii, right=True)
    return counts.to(torch.float64) / total


def deviation_integral(sample_levels: Tensor, total: int) -> Tensor:
    """Exact ∫_0^1 |F(a) - a| da for F(a) = #{levels <= a} / total (levels in [0, 1] or inf).

    Between consecutive sorted levels F is a constant c, and ∫_u^v |c - a| da has a closed form.
    """
    finite = sort_values(sample_levels[torch.isfinite(sample_levels)].to(torch.float64))
    device = sample_levels.device
    zero = torch.zeros(1, dtype=torch.float64, device=device)
    one = torch.ones(1, dtype=torch.float64, device=device)
    u = torch.cat([zero, finite])
    v = torch.cat([finite, one])
    c = torch.arange(finite.numel() + 1, dtype=torch.float64, device=device) / total
    below = 0.5 * ((v - c).square() - (u - c).square())  # c <= u: the diagonal is above
    above = 0.5 * ((c - u).square() - (c - v).square())  # c >= v: the curve is above
    across = 0.5 * ((c - u).square() + (v - c).square())  # the diagonal crosses c inside [u, v]
    piece = torch.where(c <= u, below, torch.where(c >= v, above, across))
    return piece.sum()

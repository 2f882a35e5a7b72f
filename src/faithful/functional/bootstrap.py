r"""Confidence intervals for IPα, IRβ and authenticity by half-sampling both sets.

**Estimand.** The expected value :math:`\theta_{n,m} = E[T(R, G)]` of a score T at the given sizes, R
n real samples and G m synthetic samples drawn independently from their distributions. It is the natural
target: authenticity and β-recall compare distances to nearest-neighbour radii that shrink as n grows,
so they have no size-free population value to aim at; IPα does, and differs from θ by a bias of order
:math:`1/\sqrt{n}` when its curve touches the diagonal (``docs/auditing.md``).

**Method.** Half-sampling (a delete-d jackknife with d = n/2). Each replicate draws ⌊n/2⌋ real and
⌊m/2⌋ synthetic samples *without* replacement and recomputes every score on those half-sets from
scratch: the centers, the α- and β-radii, the k-NN balls and both nearest-neighbour matchings. For an
average of n values the variance of a half-sample's average over random halves is exactly
:math:`s^2 (1/(n/2) - 1/n) = s^2 / n`, the variance of the full average: no rescaling, no rate to
assume. For the nonlinear part of a score (neighbour interactions) it overstates the variance somewhat,
which errs on the safe side. With :math:`\hat s` the standard error from the replicates (for A, extrapolated
with quarter-samples: :func:`_standard_errors`) and
:math:`z = z_{(1+\text{level})/2}`, the interval of authenticity is :math:`A \pm z\,\hat s`; that of IPα
and IRβ is normal for the log of their deviation :math:`1 - T = 2 \int |D|`:
:math:`1 - (1 - T)\,e^{\pm z \hat s / (1 - T)}` (:func:`_deviation_bounds` says why). Both are clipped to
the score's range and always hold the estimate. Resampling *with* replacement (the ordinary bootstrap)
is not used: its duplicates sit at distance 0 from each other, which empties the neighbour balls and
makes every copy of a duplicate non-authentic.

A copying generator ties each copy to its training sample; a copy drawn without its original would no
longer be a copy, so the real half-set holds the originals of the drawn exact copies (distance 0) and a
uniform draw of the other real samples.

**Cost.** The neighbour search is not repeated per replicate. Once, each real sample gets the list of
its nearest other real samples and of its nearest synthetic samples, and each synthetic sample the list
of its nearest real samples, with exact float64 distances. Within a half-set, a sample's nearest
neighbour is the first listed one that belongs to the half-set (the k-th: the k-th such), so a replicate
costs O((n + m) K) for lists of length K. The lists are exact where used: a listed neighbour is taken
only when it is certainly closer than every unlisted sample (a rigorous bound on the float64 product
that preselected them); otherwise, rare, that sample is searched exhaustively in its half-set.
Replicates draw from a local generator seeded by ``seed``, on the samples in a canonical order (sorted
by content), so the intervals do not depend on the order of the rows or of the metric's updates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import NamedTuple

import torch
from torch import Tensor

from faithful.functional import _kernels
from faithful.functional._checks import (
    ALPHA_PRECISION,
    AUTHENTICITY,
    BETA_RECALL,
    INTERVAL_KEYS,
    _check_bootstrap_options,
)
from faithful.functional.curves import grid_weight
from faithful.functional.neighbors import _pair_distances, squared_distances

__all__ = ["INTERVAL_KEYS", "bootstrap_confidence_intervals"]

# List lengths. A quarter-set holds each listed sample with probability 1/4, so a list of K misses the
# nearest member with probability (3/4)^K and the k-th with P(Binomial(K, 1/4) < k): 1e-6 for the cross
# lists, 1e-7 at k = 5 with 96 real neighbours (half-sets: far less). Misses fall back to an exact search.
_REAL_LIST = 96
_CROSS_LIST = 48
# Elements of one working block (float64 distance rows, gathered list flags): about 32 MB at most.
_BLOCK_ELEMENTS = 2**22


class _NeighborLists(NamedTuple):
    """Per point, its nearest ``K`` others in ascending (exact distance, index) order."""

    neighbor: Tensor  #: (N, K) int64
    distance: Tensor  #: (N, K) float64 exact squared distances
    cut: Tensor  #: (N,) float64: every unlisted other lies at squared distance >= cut (inf: none unlisted)


def _neighbor_lists(
    points: Tensor, others: Tensor, size: int, exclude_self: bool, data: tuple[Tensor, Tensor] | None = None
) -> _NeighborLists:
    """The ``size`` nearest ``others`` of each point (self excluded by index when ``exclude_self``).

    ``points`` and ``others`` are float64 and centred on a common origin. Candidates come from the float32
    expansion ``|p|^2 - 2 p.o + |o|^2`` of their rounded copies; their exact distances are then computed
    from direct differences (float64) and sorted. Rounding the points to float32 and the expansion (any
    summation order) change a squared distance by at most about ``(d + 5) u (|p| + |o|)^2`` (u = 2^-24);
    ``cut`` subtracts four times that from the largest listed expansion value, which every unlisted
    other's expansion value is at least. The exact distances are those of ``data`` (the caller's
    points and others, default: ``points`` and ``others``), computed as the neighbour search computes
    them, so that equal distances compare equal across both.
    """
    point_data, other_data = (points, others) if data is None else data
    num, dim = points.shape
    available = others.shape[0] - int(exclude_self)
    k = min(size, available)
    device = points.device
    points32, others32 = points.to(torch.float32), others.to(torch.float32)
    point_norms = points.square().sum(dim=1)
    other_norms = others.square().sum(dim=1)
    point_norms32, other_norms32 = point_norms.to(torch.float32), other_norms.to(torch.float32)
    slack = 4.0 * (dim + 5) * 2.0**-24
    largest_other = float(other_norms.max().sqrt())
    index = torch.empty(num, k, dtype=torch.int64, device=device)
    distance = torch.empty(num, k, dtype=torch.float64, device=device)
    cut = torch.full((num,), math.inf, dtype=torch.float64, device=device)
    rows = max(1, _BLOCK_ELEMENTS // max(1, others.shape[0]))
    for s in range(0, num, rows):
        e = min(num, s + rows)
        approx = torch.addmm(other_norms32.unsqueeze(0), points32[s:e], others32.T, alpha=-2.0)
        approx += point_norms32[s:e].unsqueeze(1)
        if exclude_self:
            own = torch.arange(s, e, device=device)
            approx[own - s, own] = math.inf
        if _kernels.AVAILABLE and device.type == "cpu":
            value, candidate = _kernels.smallest(approx, k)
        else:
            value, candidate = torch.topk(approx, k, dim=1, largest=False, sorted=False)
        if k < available:
            bound = slack * (point_norms[s:e].sqrt() + largest_other).square()
            cut[s:e] = value.amax(dim=1).to(torch.float64) - bound
        exact = _pair_distances(
            point_data, torch.arange(s, e, device=device).repeat_interleave(k), other_data, candidate.flatten()
        ).view(e - s, k)
        # Sort by (distance, index): by index first, then stably by distance.
        order = candidate.argsort(dim=1)
        candidate, exact = candidate.gather(1, order), exact.gather(1, order)
        order = exact.argsort(dim=1, stable=True)
        index[s:e], distance[s:e] = candidate.gather(1, order), exact.gather(1, order)
    return _NeighborLists(index, distance, cut)


def _canonical_order(x: Tensor) -> Tensor:
    """A row order that depends on the rows' contents only (lexicographic; equal rows are interchangeable).

    A fixed projection sorts almost every data set; a full lexicographic sort is needed only on ties.
    """
    data = x.to(torch.float64)
    direction = torch.randn(x.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    key = (data * direction.to(x.device)).sum(dim=1)
    sorted_key, order = torch.sort(key, stable=True)
    if bool((sorted_key[1:] == sorted_key[:-1]).any()):
        order = torch.arange(x.shape[0], device=x.device)
        for column in range(x.shape[1] - 1, -1, -1):  # successive stable sorts: the first column decides
            order = order[torch.sort(data[order, column], stable=True).indices]
        order = order[torch.sort(key[order], stable=True).indices]
    return order


class _Plan(NamedTuple):
    """Everything a replicate needs, computed once from the full sets (in canonical order)."""

    real: Tensor  #: (n, d) float64, centred on ``origin``
    synthetic: Tensor  #: (m, d) float64, centred on ``origin``
    real_data: Tensor  #: (n, d) the caller's real samples, canonical order (exact fallbacks)
    synthetic_data: Tensor  #: (m, d)
    real_norms: Tensor  #: (n,) float64 squared norms of ``real``
    synthetic_norms: Tensor  #: (m,)
    real_to_center: Tensor | None  #: (n,) float64 squared distances to a fixed center; None: the mean
    synthetic_to_center: Tensor | None  #: (m,)
    real_lists: _NeighborLists
    real_to_synthetic: _NeighborLists
    synthetic_to_real: _NeighborLists
    copy_of: Tensor  #: (m,) int64: the real sample a synthetic sample is an exact copy of, -1 if none
    k: int
    protocol: str
    num_thresholds: int


def _plan(real: Tensor, synthetic: Tensor, k: int, center: Tensor | None, protocol: str, num_thresholds: int) -> _Plan:
    origin = real.to(torch.float64).mean(dim=0)
    real64 = real.to(torch.float64) - origin
    synthetic64 = synthetic.to(torch.float64) - origin
    real_to_center = synthetic_to_center = None
    if center is not None:
        real_to_center = squared_distances(real, center.unsqueeze(0).expand(real.shape[0], -1))
        synthetic_to_center = squared_distances(synthetic, center.unsqueeze(0).expand(synthetic.shape[0], -1))
    cross = _CROSS_LIST
    synthetic_to_real = _neighbor_lists(synthetic64, real64, cross, False, (synthetic, real))
    # Distance 0 is certainly the nearest, whatever the list's certificate.
    copy_of = torch.where(synthetic_to_real.distance[:, 0] == 0, synthetic_to_real.neighbor[:, 0], -1)
    return _Plan(
        real64,
        synthetic64,
        real,
        synthetic,
        real64.square().sum(dim=1),
        synthetic64.square().sum(dim=1),
        real_to_center,
        synthetic_to_center,
        _neighbor_lists(real64, real64, max(_REAL_LIST, 16 * k), True, (real, real)),
        _neighbor_lists(real64, synthetic64, cross, False, (real, synthetic)),
        synthetic_to_real,
        copy_of,
        k,
        protocol,
        num_thresholds,
    )


def _scan(inside: Tensor, ranks: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Per rank, the position of the rank-th True along the last dim (0 if none) and whether there is one."""
    count = inside.cumsum(dim=-1, dtype=torch.int16 if inside.shape[-1] < 2**15 else torch.int64)
    positions = torch.stack([(count >= rank).to(torch.uint8).argmax(dim=-1) for rank in ranks], dim=-1)
    found = count[..., -1:] >= torch.tensor(ranks, dtype=count.dtype, device=count.device)
    return positions, found


def _members_in_list(
    lists: _NeighborLists, rows: Tensor, member: Tensor, ranks: tuple[int, ...], strict: bool, fraction: int
) -> tuple[Tensor, Tensor, Tensor]:
    """For each ``rows[b, i]`` and rank r, its r-th nearest listed other with ``member[b, other]``.

    Returns (squared distance, index, certified), each ``(B, R, len(ranks))``; ``certified`` is False
    where the list holds fewer than r members or an unlisted member could be as close (``strict``: could
    tie, which matters when the index is used, since ties go to the smallest index).

    The members sit near the front of a list (1 in ``fraction`` of all samples is a member), so the
    list's first ``fraction (2 max(ranks) + 2)`` entries are scanned for every row and the full list
    only for the few rows whose prefix is short of members.
    """
    width = lists.neighbor.shape[1]
    prefix = min(width, fraction * (2 * max(ranks) + 2))
    if _kernels.AVAILABLE and rows.device.type == "cpu":  # one compiled walk of each list, to its last rank
        positions, found = _kernels.list_members(lists.neighbor, rows, member, ranks)
        prefix = width
    else:
        listed = lists.neighbor[rows, :prefix]  # (B, R, prefix)
        inside = member.gather(1, listed.flatten(1)).view(listed.shape)
        positions, found = _scan(inside, ranks)
    if prefix < width:
        short = (~found.all(dim=-1)).nonzero(as_tuple=True)
        if short[0].numel():
            full = lists.neighbor[rows[short]]  # (S, K)
            positions[short], found[short] = _scan(member[short[0].unsqueeze(1), full], ranks)
    point = rows.unsqueeze(-1).expand_as(positions)
    value = lists.distance[point, positions]
    index = lists.neighbor[point, positions]
    cut = lists.cut[rows].unsqueeze(-1)
    certified = found & ((value < cut) if strict else (value <= cut))
    return value, index, certified


def _exact_fallback(points: Tensor, point: int, others: Tensor, candidates: Tensor, rank: int) -> tuple[float, int]:
    """Exhaustive search: the ``rank``-th smallest (distance, index) of ``point`` over ``candidates``."""
    exact = _pair_distances(points, torch.full_like(candidates, point), others, candidates)
    order = torch.argsort(candidates)
    exact, candidates = exact[order], candidates[order]
    pick = torch.argsort(exact, stable=True)[rank - 1]
    return float(exact[pick]), int(candidates[pick])


def _nearest_in_half(
    plan: _Plan,
    lists: _NeighborLists,
    rows: Tensor,
    member: Tensor,
    members: Tensor,
    ranks: tuple[int, ...],
    kind: str,
) -> tuple[Tensor, Tensor]:
    """(squared distance, index) ``(B, R, len(ranks))`` of each row's r-th nearest member, exact."""
    fraction = max(1, round(member.shape[1] / members.shape[1]))
    value, index, certified = _members_in_list(lists, rows, member, ranks, kind != "real", fraction)
    if not bool(certified.all()):
        points, others = (
            (plan.real_data, plan.real_data)
            if kind == "real"
            else (plan.real_data, plan.synthetic_data)
            if kind == "real_to_synthetic"
            else (plan.synthetic_data, plan.real_data)
        )
        for b, i, r in (~certified).nonzero().tolist():
            point = int(rows[b, i])
            candidates = members[b]
            if kind == "real":
                candidates = candidates[candidates != point]
            value[b, i, r], index[b, i, r] = _exact_fallback(points, point, others, candidates, ranks[r])
    return value, index


def _levels_rows(values: Tensor, sorted_reference: Tensor) -> Tensor:
    """Row-wise :func:`faithful.functional.curves.levels`: ``values`` (B, q) against ascending (B, N)."""
    n = sorted_reference.shape[1]
    count_below = torch.searchsorted(sorted_reference, values, right=False)
    lo = (count_below - 1).clamp(0, n - 1)
    d_lo = sorted_reference.gather(1, lo)
    d_hi = sorted_reference.gather(1, (lo + 1).clamp(max=n - 1))
    span = torch.where(d_hi > d_lo, d_hi - d_lo, torch.ones_like(d_hi))
    interior = ((lo.to(torch.float64) + (values - d_lo) / span) / max(1, n - 1)).clamp(0.0, 1.0)
    out = torch.where(count_below == 0, torch.zeros_like(values), interior)
    return torch.where(count_below >= n, torch.full_like(values, math.inf), out)


def _deviation_rows(sample_levels: Tensor) -> Tensor:
    """Row-wise exact ∫_0^1 |F(a) - a| da, F(a) the share of the row's levels <= a (inf never counts)."""
    rows, total = sample_levels.shape
    finite = torch.sort(sample_levels, dim=1).values.clamp(max=1.0)  # inf -> 1: zero-width pieces at 1
    zero = finite.new_zeros(rows, 1)
    u = torch.cat([zero, finite], dim=1)
    v = torch.cat([finite, zero + 1.0], dim=1)
    c = torch.arange(total + 1, dtype=torch.float64, device=finite.device) / total
    below = 0.5 * ((v - c).square() - (u - c).square())
    above = 0.5 * ((c - u).square() - (c - v).square())
    across = 0.5 * ((c - u).square() + (v - c).square())
    return torch.where(c <= u, below, torch.where(c >= v, above, across)).sum(dim=1)


def _quantile_rows(sorted_values: Tensor, q: Tensor) -> Tensor:
    """Row-wise :func:`faithful.functional.curves.quantile_sorted` (numpy's linear interpolation)."""
    n = sorted_values.shape[1]
    position = q * (n - 1)
    below = torch.floor(position).clamp(0, n - 1).long()
    above = (below + 1).clamp(max=n - 1)
    t = position - below
    a, b = sorted_values[:, below], sorted_values[:, above]
    diff = b - a
    return torch.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _score_rows(values: Tensor, sorted_reference: Tensor, total: int, protocol: str, num_thresholds: int) -> Tensor:
    """IPα or IRβ of each row: ``values`` (inf: never counts) against the row's reference distances."""
    if protocol == "paper":
        return 1.0 - 2.0 * _deviation_rows(_levels_rows(values, sorted_reference))
    grid = torch.linspace(0.0, 1.0, num_thresholds, dtype=torch.float64, device=values.device)
    radii = _quantile_rows(sorted_reference, grid)
    counts = torch.searchsorted(torch.sort(values, dim=1).values, radii, right=True)
    curve = counts.to(torch.float64) / total
    return 1.0 - grid_weight(protocol, grid) * (curve - grid).abs().sum(dim=1)


def _center_distances(points: Tensor, norms: Tensor, shift: Tensor) -> Tensor:
    """``|p - shift_b|`` for every point and row b of ``shift`` (B, d), all centred on one origin: (B, N)."""
    squared = norms.unsqueeze(0) - 2.0 * (shift @ points.T) + shift.square().sum(dim=1, keepdim=True)
    return squared.clamp_(min=0.0).sqrt_()


def _authenticity_scores(plan: _Plan, real_index: Tensor, synthetic_index: Tensor) -> Tensor:
    """A of each subset pair (the part of :func:`_replicate_scores` that authenticity needs): (B,)."""
    n = plan.real.shape[0]
    real_member = torch.zeros(real_index.shape[0], n, dtype=torch.bool, device=real_index.device)
    real_member.scatter_(1, real_index, True)
    nnd_1 = _nearest_in_half(plan, plan.real_lists, real_index, real_member, real_index, (1,), "real")[0][..., 0]
    s2r, s2r_index = (
        t[..., 0]
        for t in _nearest_in_half(
            plan, plan.synthetic_to_real, synthetic_index, real_member, real_index, (1,), "synthetic_to_real"
        )
    )
    nnd_1_full = torch.zeros(real_index.shape[0], n, dtype=torch.float64, device=real_index.device)
    nnd_1_full.scatter_(1, real_index, nnd_1)
    return (s2r > nnd_1_full.gather(1, s2r_index)).to(torch.float64).mean(dim=1)


def _replicate_scores(plan: _Plan, real_index: Tensor, synthetic_index: Tensor) -> Tensor:
    """(IPα, IRβ, A) of each half-set pair: ``real_index`` (B, n') and ``synthetic_index`` (B, m'), ascending.

    The scores are those of :func:`alpha_precision_beta_recall_authenticity` on
    ``(real[real_index[b]], synthetic[synthetic_index[b]])`` (centre distances by the centred expansion,
    so equal up to rounding; neighbours and flags exact).
    """
    batch, n_half = real_index.shape
    m_half = synthetic_index.shape[1]
    n, m = plan.real.shape[0], plan.synthetic.shape[0]
    device = plan.real.device
    real_member = torch.zeros(batch, n, dtype=torch.bool, device=device).scatter_(1, real_index, True)
    synthetic_member = torch.zeros(batch, m, dtype=torch.bool, device=device).scatter_(1, synthetic_index, True)

    # α-precision: half-set distances to c_r (the half's real mean unless a center is fixed).
    if plan.real_to_center is None:
        real_mean = real_member.to(torch.float64) @ plan.real / n_half
        real_radii = _center_distances(plan.real, plan.real_norms, real_mean).gather(1, real_index)
        synthetic_radii = _center_distances(plan.synthetic, plan.synthetic_norms, real_mean).gather(1, synthetic_index)
    else:
        real_radii = plan.real_to_center.sqrt()[real_index]
        synthetic_radii = plan.synthetic_to_center.sqrt()[synthetic_index]  # type: ignore[union-attr]
    alpha_precision = _score_rows(
        synthetic_radii, torch.sort(real_radii, dim=1).values, m_half, plan.protocol, plan.num_thresholds
    )

    # Neighbours inside the half-sets.
    ranks = (1,) if plan.k == 1 else (1, plan.k)
    nnd, _ = _nearest_in_half(plan, plan.real_lists, real_index, real_member, real_index, ranks, "real")
    nnd_1, nnd_k = nnd[..., 0], nnd[..., -1]
    r2s, r2s_index = (
        t[..., 0]
        for t in _nearest_in_half(
            plan, plan.real_to_synthetic, real_index, synthetic_member, synthetic_index, (1,), "real_to_synthetic"
        )
    )
    s2r, s2r_index = (
        t[..., 0]
        for t in _nearest_in_half(
            plan, plan.synthetic_to_real, synthetic_index, real_member, real_index, (1,), "synthetic_to_real"
        )
    )

    # β-recall: the matched synthetic sample's distance to the half's synthetic mean.
    synthetic_mean = synthetic_member.to(torch.float64) @ plan.synthetic / m_half
    own = _center_distances(plan.synthetic, plan.synthetic_norms, synthetic_mean)
    matched = own.gather(1, r2s_index)
    in_ball = r2s <= nnd_k
    reference = own.gather(1, synthetic_index) if plan.protocol == "paper" else matched
    beta_recall = _score_rows(
        torch.where(in_ball, matched, math.inf),
        torch.sort(reference, dim=1).values,
        n_half,
        plan.protocol,
        plan.num_thresholds,
    )

    # Authenticity: NND_1 of the nearest real sample, looked up by its index.
    nnd_1_full = torch.zeros(batch, n, dtype=torch.float64, device=device).scatter_(1, real_index, nnd_1)
    authenticity = (s2r > nnd_1_full.gather(1, s2r_index)).to(torch.float64).mean(dim=1)
    return torch.stack([alpha_precision, beta_recall, authenticity], dim=1)


def _draw_halves(size: int, half: int, rows: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """``rows`` subsets of ``half`` of ``range(size)`` without replacement, each ascending: (rows, half)."""
    chosen = torch.stack([torch.randperm(size, generator=generator)[:half] for _ in range(rows)])
    mask = torch.zeros(rows, size, dtype=torch.bool).scatter_(1, chosen, True)
    return mask.nonzero()[:, 1].view(rows, half).to(device)


def _draw_pairs(plan: _Plan, n_sub: int, m_sub: int, rows: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Real and synthetic subsets ``(rows, n_sub)``, ``(rows, m_sub)``, ascending; copies keep their originals.

    The synthetic subset is a uniform draw. A synthetic sample identical to a real one was drawn together
    with it (a copying generator ties the two), so the real subset holds the originals of the drawn
    copies and a uniform draw of the other real samples for the rest (if there are more originals than
    ``n_sub``, a uniform draw of them). Without exact copies both subsets are uniform and independent.
    """
    n, m = plan.real.shape[0], plan.synthetic.shape[0]
    device = plan.real.device
    synthetic_index = _draw_halves(m, m_sub, rows, generator, device)
    copy_of = plan.copy_of
    if not bool((copy_of >= 0).any()):
        return _draw_halves(n, n_sub, rows, generator, device), synthetic_index
    real_member = torch.zeros(rows, n, dtype=torch.bool)
    for row in range(rows):
        originals = torch.unique(copy_of[synthetic_index[row]].cpu())
        originals = originals[originals >= 0]
        if originals.numel() > n_sub:
            originals = originals[torch.randperm(originals.numel(), generator=generator)[:n_sub]]
        real_member[row, originals] = True
        others = (~real_member[row]).nonzero().flatten()
        fill = others[torch.randperm(others.numel(), generator=generator)[: n_sub - originals.numel()]]
        real_member[row, fill] = True
    return real_member.nonzero()[:, 1].view(rows, n_sub).to(device), synthetic_index


def _replicates(plan: _Plan, num_resamples: int, seed: int, fraction: int, only_authenticity: bool = False) -> Tensor:
    """(num_resamples, 3) scores (IPα, IRβ, A) of random 1/``fraction`` subsets of both sets ((num_resamples,)
    authenticities with ``only_authenticity``)."""
    n, m = plan.real.shape[0], plan.synthetic.shape[0]
    n_sub, m_sub = n // fraction, m // fraction
    generator = torch.Generator().manual_seed(seed)
    width = n_sub * plan.real_lists.neighbor.shape[1] + (n_sub + m_sub) * plan.real_to_synthetic.neighbor.shape[1]
    rows = max(1, _BLOCK_ELEMENTS // max(width, n + m))
    out = []
    done = 0
    while done < num_resamples:
        block = min(rows, num_resamples - done)
        real_index, synthetic_index = _draw_pairs(plan, n_sub, m_sub, block, generator)
        scores = _authenticity_scores if only_authenticity else _replicate_scores
        out.append(scores(plan, real_index, synthetic_index))
        done += block
    return torch.cat(out)


def _check_half_sizes(n: int, m: int, k: int) -> None:
    if n // 4 < k + 1 or m // 4 < 1:
        raise ValueError(
            f"Expected at least 4 * (k + 1) = {4 * (k + 1)} real and 4 synthetic samples for confidence intervals "
            f"(each quarter-sample needs k + 1 = {k + 1} real samples), but got {n} real and {m} synthetic."
        )


def _standard_errors(plan: _Plan, num_resamples: int, seed: int) -> Tensor:
    """Standard errors of (IPα, IRβ, A): half-sample variances, for A extrapolated with quarter-samples.

    For an average the variance over random halves equals the full average's variance. Where pairs of
    samples interact (authenticity compares a distance with the nearest real sample's own
    nearest-neighbour distance) the halves overstate it: with ``V_b = c / b - g`` for the variance over
    subsets of size b (c / b the score's variance at size b, g that of its average over all subsets),
    ``V_{N/4} - V_{N/2} = 2 c / N`` is the full-size variance whatever the split between the two. This
    holds for A (its mean barely depends on the size); IPα and IRβ change shape between quarter and half
    sizes (the k-NN balls and β-quantiles of a quarter-set are too coarse), so they keep the half-sample
    variance, which is right for their per-sample (linear) part. ``docs/auditing.md`` has the
    measurements behind this choice.
    """
    seeds = torch.randint(2**62, (2,), generator=torch.Generator().manual_seed(seed)).tolist()
    half = _replicates(plan, num_resamples, seeds[0], 2).var(dim=0, correction=1)
    quarter = _replicates(plan, num_resamples, seeds[1], 4, only_authenticity=True).var(correction=1)
    # Floored against noise: the difference of two variance estimates can come out small or negative.
    half[2] = torch.maximum((quarter - half[2]) / 2.0, half[2] / 4.0)
    return half.sqrt()


def _deviation_bounds(score: Tensor, half_width: Tensor) -> tuple[Tensor, Tensor]:
    """Bounds of IPα or IRβ from a normal interval for the log of their deviation ``1 - score``.

    The scores are ``1 - 2 ∫ |D|`` for a signed curve D, and the spread of ``∫ |D|`` grows with it: near
    the diagonal (``E[D]`` ≈ 0) ``∫ |D|`` is a folded, right-skewed quantity whose standard deviation is
    proportional to its size, and the half-sample standard error is smallest exactly when the score came
    out high by chance. On the log scale that spread is about constant, so the deviation's interval is
    ``dev · exp(∓ z SE / dev)``: wider below the score than ``z SE`` and narrower above it (never past 1),
    and the same as ``score ± z SE`` to first order when the deviation is large against SE. A deviation
    of exactly 0 (a curve exactly on the grid's diagonal) keeps the plain normal lower bound.
    """
    deviation = 1.0 - score
    if float(deviation) <= 0.0:
        return score - half_width, score
    ratio = half_width / deviation
    # exp may overflow to inf for a tiny deviation: the lower bound is then clipped to the range.
    return 1.0 - deviation * torch.exp(ratio), 1.0 - deviation * torch.exp(-ratio)


def _half_sampling_intervals(
    real: Tensor,
    synthetic: Tensor,
    estimate: Mapping[str, Tensor],
    *,
    k: int,
    center: Tensor | None,
    protocol: str,
    num_thresholds: int,
    confidence_level: float,
    num_resamples: int,
    seed: int,
) -> dict[str, Tensor]:
    """The six bounds around ``estimate``'s scalars (inputs already checked)."""
    _check_half_sizes(real.shape[0], synthetic.shape[0], k)
    real = real[_canonical_order(real)]
    synthetic = synthetic[_canonical_order(synthetic)]
    plan = _plan(real, synthetic, k, center, protocol, num_thresholds)
    spread = _standard_errors(plan, num_resamples, seed)
    z = NormalDist().inv_cdf(0.5 + confidence_level / 2.0)
    # The lowest score: 0 for the exact integral; a curve of zeros under a published normalisation.
    grid = torch.linspace(0.0, 1.0, num_thresholds, dtype=torch.float64)
    lowest = 0.0 if protocol == "paper" else 1.0 - grid_weight(protocol, grid) * float(grid.sum())
    result = {}
    for column, key in enumerate((ALPHA_PRECISION, BETA_RECALL, AUTHENTICITY)):
        value = estimate[key]
        center_value = value.to(torch.float64)
        half_width = z * spread[column].to(center_value.device)
        floor = 0.0 if key == AUTHENTICITY else lowest
        if key == AUTHENTICITY:
            lower, upper = center_value - half_width, center_value + half_width
        else:
            lower, upper = _deviation_bounds(center_value, half_width)
        lower = torch.minimum(lower.clamp(min=floor), center_value)
        upper = torch.maximum(upper.clamp(max=1.0), center_value)
        result[f"{key}_lower"], result[f"{key}_upper"] = lower.to(value.dtype), upper.to(value.dtype)
    return result


def bootstrap_confidence_intervals(
    real: Tensor,
    synthetic: Tensor | None = None,
    *,
    k: int | None = None,
    center: Tensor | None = None,
    protocol: str = "paper",
    num_thresholds: int | None = None,
    confidence_level: float = 0.95,
    num_resamples: int = 200,
    seed: int = 0,
) -> dict[str, Tensor]:
    r"""Confidence intervals for IPα, IRβ and A by half-sampling both sets (see the module docstring).

    The target is the expected score at these sample sizes, with both the real and the synthetic set
    random. Each of ``num_resamples`` replicates recomputes the three scores on half of the real and half
    of the synthetic samples, drawn without replacement; the interval is the estimate plus or minus the
    normal quantile times the replicates' standard deviation (the variance of a half-sample average is
    that of the full average), for IPα and IRβ on the scale of the log of their deviation from 1. Same arguments as
    :func:`~faithful.functional.alpha_precision_beta_recall_authenticity`, which returns the same bounds
    with ``confidence_level=``.

    Changed in this version: the function takes the two sample sets, not the per-sample output (which
    cannot tell how the radii and neighbour balls vary with the data).

    Args:
        real: ``(n, d)`` real embeddings, n >= 4 (k + 1).
        synthetic: ``(m, d)`` synthetic embeddings, m >= 4 (optional only so that a call with the former
            signature gets a clear error).
        k, center, protocol, num_thresholds: as for the scores.
        confidence_level: the interval's nominal coverage, in (0, 1).
        num_resamples: half-sample replicates (the standard deviation's relative error is about
            :math:`1/\sqrt{2 B}`: 2% at 1000).
        seed: seed of the local generator (the global RNG is left alone); same seed, same intervals.

    Returns:
        ``alpha_precision_lower``, ``alpha_precision_upper``, ``beta_recall_lower``, ``beta_recall_upper``,
        ``authenticity_lower``, ``authenticity_upper``: 0-d tensors in the scores' dtype.

    Raises:
        TypeError: if ``real`` is the per-sample dict of the former signature, or an input is not a
            floating point tensor.
        ValueError: on the inputs' or options' errors of the scores, fewer than 4 (k + 1) real or 4
            synthetic samples, or a bad ``confidence_level``, ``num_resamples`` or ``seed``.

    Example:
        >>> import torch
        >>> from faithful.functional import bootstrap_confidence_intervals
        >>> gen = torch.Generator().manual_seed(0)
        >>> real, synthetic = torch.randn(500, 8, generator=gen), torch.randn(400, 8, generator=gen)
        >>> intervals = bootstrap_confidence_intervals(real, synthetic, num_resamples=200)
        >>> bool(intervals["authenticity_lower"] < intervals["authenticity_upper"])
        True
    """
    if isinstance(real, Mapping):
        raise TypeError(
            "Expected argument `real` to be the (n, d) tensor of real samples, but got a mapping: "
            "`bootstrap_confidence_intervals` now takes the two sample sets "
            "(`bootstrap_confidence_intervals(real, synthetic, confidence_level=...)`), because intervals "
            "from the per-sample output alone held the radii and neighbour balls fixed and were too narrow. "
            "Or pass `confidence_level=` to `alpha_precision_beta_recall_authenticity`."
        )
    if synthetic is None:
        raise TypeError("Expected argument `synthetic`: the (m, d) tensor of synthetic samples, but got None.")
    _check_bootstrap_options(confidence_level, num_resamples, seed)
    from faithful.functional.apra import alpha_precision_beta_recall_authenticity

    result = alpha_precision_beta_recall_authenticity(
        real,
        synthetic,
        k=k,
        center=center,
        protocol=protocol,
        num_thresholds=num_thresholds,
        confidence_level=confidence_level,
        num_resamples=num_resamples,
        seed=seed,
    )
    return {key: result[key] for key in INTERVAL_KEYS}

r"""Bootstrap confidence intervals for IPα, IRβ and authenticity from the per-sample output.

The three scores are averages of per-sample quantities once the neighbour search is done: IPα is a
functional of the synthetic samples' α-levels, authenticity the mean of their ``authentic`` flags, IRβ a
functional of the real samples' β-levels. Resampling those per-sample outputs with replacement gives a
bootstrap distribution of each score without repeating any neighbour search, so 1000 resamples of 10 000
samples take a fraction of a second.

**What the interval covers.** The sampling variability of the *synthetic* set (for IPα and authenticity)
and of the *real* set (for IRβ), *given* everything the other set fixed: the α-radii (quantiles of the
real distances to :math:`c_r`), the real samples' nearest-neighbour balls, the nearest-neighbour matching,
the β-radii (quantiles over the synthetic set). This is a conditional bootstrap. It does **not** cover
the variability of those radii and balls themselves (that of the real set for IPα and authenticity, of
the synthetic set for IRβ), so it is too narrow for the population value when both sets are of similar
size; it is right for "how much would the score move with another synthetic set of this size against
this real reference" (or another real set against this synthetic one, for IRβ). ``docs/auditing.md``
has the measured coverage.

The interval is the percentile interval: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the
resampled scores. Each resample is a vector of multiplicities over the samples, so the exact integral of
:func:`faithful.functional.curves.deviation_integral` is evaluated for a whole batch of resamples at
once from the sorted levels and cumulative multiplicities (no per-resample sort).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from faithful.functional._checks import (
    ALPHA_PRECISION,
    AUTHENTICITY,
    BETA_RECALL,
    INTERVAL_KEYS,
    PROTOCOLS,
    _check_bootstrap_options,
    _check_num_thresholds,
    _check_protocol,
)
from faithful.functional.curves import grid_weight

__all__ = ["INTERVAL_KEYS", "bootstrap_confidence_intervals"]

_REQUIRED_KEYS = ("alpha_level", "authentic", "beta_level")

# Elements of one (resamples x samples) float64 block: about 16 MB, a handful of them alive at once.
_BLOCK_ELEMENTS = 2**21


def _check_sample_result(sample_result: object) -> tuple[Tensor, Tensor, Tensor]:
    if not isinstance(sample_result, Mapping):
        raise TypeError(
            "Expected argument `sample_result` to be the dict returned by "
            "`alpha_precision_beta_recall_authenticity(..., sample_level=True)` or by the metric's "
            f"`sample_scores()`, but got {type(sample_result).__name__}."
        )
    missing = [key for key in _REQUIRED_KEYS if key not in sample_result]
    if missing:
        raise ValueError(
            f"Expected argument `sample_result` to hold the per-sample keys {_REQUIRED_KEYS}, but it lacks "
            f"{missing} (got keys {sorted(sample_result)}). Pass the output of "
            "`alpha_precision_beta_recall_authenticity(..., sample_level=True)` or `metric.sample_scores()`."
        )
    alpha_level, authentic, beta_level = (sample_result[key] for key in _REQUIRED_KEYS)
    for key, value in zip(_REQUIRED_KEYS, (alpha_level, authentic, beta_level), strict=True):
        if not isinstance(value, Tensor) or value.ndim != 1 or value.numel() == 0:
            got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"Expected `sample_result[{key!r}]` to be a non-empty 1-D tensor, but got {got}.")
    if authentic.dtype != torch.bool:
        raise ValueError(f"Expected `sample_result['authentic']` to be a bool tensor, but got dtype {authentic.dtype}.")
    if alpha_level.shape != authentic.shape:
        raise ValueError(
            "Expected `sample_result['alpha_level']` and `sample_result['authentic']` to have one entry per "
            f"synthetic sample each, but got shapes {tuple(alpha_level.shape)} and {tuple(authentic.shape)}."
        )
    for key, value in (("alpha_level", alpha_level), ("beta_level", beta_level)):
        if not value.is_floating_point() or bool(torch.isnan(value).any()) or bool((value < 0).any()):
            raise ValueError(
                f"Expected `sample_result[{key!r}]` to hold levels in [0, 1] or inf, but got dtype {value.dtype} "
                f"with values in [{value.min().item()}, {value.max().item()}]."
            )
    return alpha_level, authentic, beta_level


def _draw_cumulative_counts(num_samples: int, rows: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """``(rows, num_samples + 1)`` float64: column i holds how many of the draws fell on samples ``< i``.

    Row b describes resample b (``num_samples`` draws with replacement): its multiplicities are the
    differences of consecutive columns; column 0 is 0 and the last column ``num_samples``.
    """
    index = torch.randint(num_samples, (rows, num_samples), generator=generator).to(device)
    counts = torch.zeros(rows, num_samples + 1, dtype=torch.float64, device=device)
    ones = torch.ones(1, dtype=torch.float64, device=device).expand(rows, num_samples)
    counts[:, 1:].scatter_add_(1, index, ones)
    return counts.cumsum_(dim=1)


def _batched_deviation_integral(sorted_levels: Tensor, cumulative: Tensor) -> Tensor:
    """Exact ∫_0^1 |F_b(a) - a| da for every resample b (``deviation_integral`` of a reweighted sample).

    ``sorted_levels`` ``(N,)`` ascending (inf last); ``cumulative`` ``(B, N + 1)`` the cumulative
    multiplicities of the sorted samples in each resample (:func:`_draw_cumulative_counts`); every resample
    has N draws. F_b(a) is the share of resample b's levels <= a. Between consecutive
    sorted levels F_b is a constant c, so the pieces [u, v] are the same for every resample (a sample drawn
    0 times gives an empty step). With width w = v - u and δ = c - (u + v) / 2, ∫_u^v |c - a| da = w·|δ|
    when the diagonal stays on one side (|δ| >= w / 2), else δ² + w²/4; both cases are
    w·|δ| + max(0, w/2 - |δ|)², one matrix-vector product and a few elementwise passes over one buffer.
    ``cumulative`` is overwritten.
    """
    # inf -> 1: a level at 1 or beyond never raises F on [0, 1), and the extra pieces get zero width.
    finite = sorted_levels.to(torch.float64).clamp(max=1.0)
    u = torch.cat([finite.new_zeros(1), finite])
    v = torch.cat([finite, finite.new_ones(1)])
    size = float(sorted_levels.numel())  # every resample has as many draws as there are samples
    # Work in counts (δ·size) and rescale at the end: saves a division pass over the buffer.
    width = v - u
    distance = cumulative.sub_((0.5 * size) * (u + v)).abs_()  # |δ|·size
    one_sided = (distance @ width) / size
    crossing = distance.sub_((0.5 * size) * width).clamp_(max=0.0)  # -max(0, w/2 - |δ|)·size
    return one_sided + torch.linalg.vector_norm(crossing, dim=1).square() / size**2


def _batched_grid_deviation(sorted_levels: Tensor, cumulative: Tensor, grid: Tensor, protocol: str) -> Tensor:
    """The published codes' ``(w / 2) · Σ_grid |F_b(a) - a|`` for every resample b (score: 1 - 2·deviation)."""
    position = torch.searchsorted(sorted_levels.to(torch.float64), grid, right=True)  # #{levels <= a}
    curve = cumulative[:, position] / sorted_levels.numel()
    return (curve - grid).abs().sum(dim=1) * (0.5 * grid_weight(protocol, grid))


def _resampled_scores(
    sorted_levels: Tensor,
    flags: Tensor | None,
    num_resamples: int,
    generator: torch.Generator,
    grid: Tensor | None,
    protocol: str,
) -> tuple[Tensor, Tensor]:
    """(1 - 2·deviation, mean of ``flags``) of ``num_resamples`` resamples of one sample set.

    ``flags`` (float64, aligned with ``sorted_levels``) are averaged over the same resamples; without
    them the second tensor is empty.
    """
    num_samples = sorted_levels.numel()
    rows = max(1, _BLOCK_ELEMENTS // (num_samples + 1))
    deviation, flag_means = [], []
    # Cumulative sums of the flags: a resample's flag count is Σ_i mult_i·flag_i = Σ_i C_i·(flag_(i-1) - flag_i).
    flag_steps = None if flags is None else torch.cat([flags, flags.new_zeros(1)]).diff(prepend=flags.new_zeros(1))
    done = 0
    while done < num_resamples:
        block = min(rows, num_resamples - done)
        cumulative = _draw_cumulative_counts(num_samples, block, generator, sorted_levels.device)
        if flag_steps is not None:
            flag_means.append(-(cumulative @ flag_steps) / num_samples)
        if grid is None:
            deviation.append(_batched_deviation_integral(sorted_levels, cumulative))
        else:
            deviation.append(_batched_grid_deviation(sorted_levels, cumulative, grid, protocol))
        done += block
    scores = 1.0 - 2.0 * torch.cat(deviation)
    return scores, (torch.cat(flag_means) if flag_means else scores.new_empty(0))


def bootstrap_confidence_intervals(
    sample_result: Mapping[str, Tensor],
    *,
    confidence_level: float = 0.95,
    num_resamples: int = 1000,
    seed: int = 0,
    protocol: str = "paper",
    num_thresholds: int | None = None,
) -> dict[str, Tensor]:
    r"""Percentile bootstrap intervals for IPα, IRβ and authenticity from the per-sample output.

    Resamples the synthetic samples with replacement for IPα (from ``alpha_level``, through the exact
    integral) and authenticity (from ``authentic``; the same resamples for both), and the real samples for
    IRβ (from ``beta_level``). No neighbour search is repeated: the radii, the neighbour balls and the
    matching are those of the full sets (a conditional bootstrap; see the module docstring for what the
    interval does and does not cover).

    Args:
        sample_result: per-sample output with ``alpha_level`` and ``authentic`` ``(m,)`` and ``beta_level``
            ``(n,)``: ``alpha_precision_beta_recall_authenticity(..., sample_level=True)`` or the metric's
            ``sample_scores()``.
        confidence_level: the interval's nominal coverage, in (0, 1).
        num_resamples: bootstrap resamples.
        seed: seed of the local generator (the global RNG is left alone); same seed, same intervals.
        protocol: how the scores were integrated: ``"paper"`` (exact integral), ``"reference"`` (the
            authors' Riemann sum on ``num_thresholds`` grid points) or ``"synthcity"`` (the same sum divided
            by the sum of the grid, as synthcity does). Must match the point estimate's.
        num_thresholds: grid points for ``"reference"`` and ``"synthcity"``; ``None``: 30. Unused for
            ``"paper"``.

    Returns:
        ``alpha_precision_lower``, ``alpha_precision_upper``, ``beta_recall_lower``, ``beta_recall_upper``,
        ``authenticity_lower``, ``authenticity_upper``: 0-d tensors in the dtype of ``alpha_level`` on its
        device.

    Raises:
        TypeError: if ``sample_result`` is not a mapping.
        ValueError: if a required key is missing or malformed, or on a bad ``confidence_level``,
            ``num_resamples``, ``seed``, ``protocol`` or ``num_thresholds``.

    Example:
        >>> import torch
        >>> from faithful.functional import (
        ...     alpha_precision_beta_recall_authenticity, bootstrap_confidence_intervals)
        >>> gen = torch.Generator().manual_seed(0)
        >>> real, synthetic = torch.randn(500, 8, generator=gen), torch.randn(400, 8, generator=gen)
        >>> result = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
        >>> intervals = bootstrap_confidence_intervals(result, confidence_level=0.9)
        >>> bool(intervals["authenticity_lower"] < result["authenticity"] < intervals["authenticity_upper"])
        True
    """
    _check_bootstrap_options(confidence_level, num_resamples, seed)
    protocol = _check_protocol(protocol)
    num_thresholds = _check_num_thresholds(num_thresholds)
    alpha_level, authentic, beta_level = _check_sample_result(sample_result)
    device = alpha_level.device
    grid = None
    if protocol != "paper":
        grid = torch.linspace(0.0, 1.0, num_thresholds or PROTOCOLS[protocol][1], dtype=torch.float64)
        grid = grid.to(device)

    # Two independent streams from one seed: the synthetic resamples do not depend on n, nor the real ones on m.
    seeds = torch.randint(2**62, (2,), generator=torch.Generator().manual_seed(seed)).tolist()
    synthetic_generator = torch.Generator().manual_seed(seeds[0])
    real_generator = torch.Generator().manual_seed(seeds[1])

    order = torch.argsort(alpha_level)
    alpha_scores, authenticity_scores = _resampled_scores(
        alpha_level[order], authentic[order].to(torch.float64), num_resamples, synthetic_generator, grid, protocol
    )
    beta_scores, _ = _resampled_scores(
        torch.sort(beta_level).values, None, num_resamples, real_generator, grid, protocol
    )

    tail = (1.0 - confidence_level) / 2.0
    q = torch.tensor([tail, 1.0 - tail], dtype=torch.float64, device=device)
    dtype = alpha_level.dtype
    result = {}
    for key, scores in (
        (ALPHA_PRECISION, alpha_scores),
        (BETA_RECALL, beta_scores),
        (AUTHENTICITY, authenticity_scores),
    ):
        lower, upper = torch.quantile(scores, q).to(dtype)
        result[f"{key}_lower"], result[f"{key}_upper"] = lower, upper
    return result

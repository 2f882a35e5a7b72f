r"""α-precision, β-recall and authenticity (Alaa et al., ICML 2022) as pure tensor functions."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from faithful.functional._checks import (
    ALPHA_PRECISION,
    ALPHA_PRECISION_CURVE,
    AUTHENTICITY,
    BETA_RECALL,
    BETA_RECALL_CURVE,
    THRESHOLDS,
    _check_bootstrap_options,
    _check_center,
    _check_options,
    _check_real,
    _check_synthetic,
    _result_dtype,
)
from faithful.functional.bootstrap import _check_half_sizes, _half_sampling_intervals
from faithful.functional.curves import curve_on_grid, deviation_integral, levels
from faithful.functional.neighbors import PreparedSet, cross_nearest, prepare, real_knn, squared_distances

__all__ = ["RealStatistics", "alpha_precision_beta_recall_authenticity"]


class RealStatistics(NamedTuple):
    """Everything that depends on the real set only; computed once, reused for every synthetic set."""

    prepared: PreparedSet  #: real samples, centred float32 copy for the GEMM filter
    origin: Tensor  #: (d,) float64 shift applied to both sets before the GEMM (the real mean)
    center: Tensor  #: (d,) float64 c_r
    sorted_center_distances: Tensor  #: (n,) float64 ascending ||r_i - c_r||
    knn: Tensor  #: (n, k) float64 squared distances to the k nearest other real samples
    k: int


# --------------------------------------------------------------------------------------------------
# computation (trusts its inputs)
# --------------------------------------------------------------------------------------------------


def _center_distances(x: Tensor, center: Tensor) -> Tensor:
    """Exact ||x_i - center|| in float64."""
    return squared_distances(x, center.unsqueeze(0).expand(x.shape[0], -1)).sqrt()


def _real_statistics(
    real: Tensor, k: int, center: Tensor | None = None, chunk_size: int | None = None
) -> RealStatistics:
    """Real-side quantities: the GEMM copy, c_r, the α-radii's distances and NND_1..NND_k."""
    origin = real.to(torch.float64).mean(dim=0)
    prepared = prepare(real, origin)
    c_r = origin if center is None else center
    center_distances = torch.sort(_center_distances(real, c_r)).values
    knn = real_knn(prepared, k, chunk_size)
    return RealStatistics(prepared, origin, c_r, center_distances, knn, k)


def _alpha_precision_beta_recall_authenticity_compute(
    stats: RealStatistics,
    synthetic: Tensor,
    protocol: str,
    num_thresholds: int,
    chunk_size: int | None = None,
    sample_level: bool = False,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Tensor]:
    """Everything that involves the synthetic set; ``stats`` may be cached across calls."""
    n = stats.sorted_center_distances.numel()
    m = synthetic.shape[0]
    device = synthetic.device
    neighbors = cross_nearest(stats.prepared, prepare(synthetic, stats.origin), chunk_size)

    # α-precision: synthetic distances to c_r against the quantiles of the real ones.
    synthetic_to_center = _center_distances(synthetic, stats.center)
    alpha_level = levels(synthetic_to_center, stats.sorted_center_distances)

    # β-recall: real i is covered when its nearest synthetic is inside r_i's k-NN ball and β-typical.
    synthetic_center = synthetic.to(torch.float64).mean(dim=0)
    synthetic_to_own_center = _center_distances(synthetic, synthetic_center)
    matched = synthetic_to_own_center[neighbors.real_to_synthetic_index]
    in_ball = neighbors.real_to_synthetic <= stats.knn[:, stats.k - 1]
    # SPEC: the β-support is a quantile over all m synthetic samples; the authors' code used the
    # n matched ones, which "reference" reproduces.
    beta_reference = torch.sort(synthetic_to_own_center if protocol == "paper" else matched).values
    beta_level = torch.where(in_ball, levels(matched, beta_reference), math.inf)

    # Authenticity: strictly farther from the nearest real sample than it is from its own neighbour.
    nearest = neighbors.synthetic_to_real_index
    authentic = neighbors.synthetic_to_real > stats.knn[nearest, 0]

    grid = torch.linspace(0.0, 1.0, num_thresholds, dtype=torch.float64, device=device)
    alpha_curve = curve_on_grid(synthetic_to_center, stats.sorted_center_distances, grid, m)
    beta_curve = curve_on_grid(torch.where(in_ball, matched, math.inf), beta_reference, grid, n)
    if protocol == "paper":
        alpha_precision = 1.0 - 2.0 * deviation_integral(alpha_level, m)
        beta_recall = 1.0 - 2.0 * deviation_integral(beta_level, n)
    else:  # the authors' Riemann sum over the 30 grid points, unclipped
        step = 1.0 / (num_thresholds - 1)
        alpha_precision = 1.0 - 2.0 * step * (alpha_curve - grid).abs().sum()
        beta_recall = 1.0 - 2.0 * step * (beta_curve - grid).abs().sum()

    result = {
        ALPHA_PRECISION: alpha_precision.to(dtype),
        BETA_RECALL: beta_recall.to(dtype),
        AUTHENTICITY: authentic.to(torch.float64).mean().to(dtype),
        THRESHOLDS: grid.to(dtype),
        ALPHA_PRECISION_CURVE: alpha_curve.to(dtype),
        BETA_RECALL_CURVE: beta_curve.to(dtype),
    }
    if sample_level:
        result.update(
            alpha_level=alpha_level.to(dtype),
            authentic=authentic,
            distance_to_real=neighbors.synthetic_to_real.sqrt().to(dtype),
            nearest_real_index=nearest,
            covered=in_ball,
            beta_level=beta_level.to(dtype),
        )
    return result


def alpha_precision_beta_recall_authenticity(
    real: Tensor,
    synthetic: Tensor,
    *,
    k: int | None = None,
    center: Tensor | None = None,
    protocol: str = "paper",
    num_thresholds: int | None = None,
    chunk_size: int | None = None,
    sample_level: bool = False,
    confidence_level: float | None = None,
    num_resamples: int = 200,
    seed: int = 0,
) -> dict[str, Tensor]:
    r"""α-precision, β-recall and authenticity of ``synthetic`` samples against ``real`` ones.

    The three sample-level metrics of Alaa et al., *How Faithful is your Synthetic Data?* (ICML 2022),
    computed exactly in the space of the given embeddings.

    - **α-precision** (fidelity). With :math:`\rho_\alpha` the α-quantile of :math:`\|r_i - c_r\|`,
      :math:`P_\alpha = \frac1m\#\{j : \|g_j - c_r\| \le \rho_\alpha\}` and
      :math:`IP_\alpha = 1 - 2\int_0^1 |P_\alpha - \alpha|\,d\alpha`.
    - **β-recall** (diversity). Real :math:`r_i` is covered at level β when its nearest synthetic sample
      :math:`g_{j^*(i)}` lies within its k-th nearest real neighbour distance and
      :math:`\|g_{j^*(i)} - c_g\| \le \tau_\beta`, the β-quantile of all :math:`\|g_j - c_g\|`;
      :math:`R_\beta` is the covered share and :math:`IR_\beta = 1 - 2\int_0^1 |R_\beta - \beta|\,d\beta`.
    - **authenticity** (generalization). :math:`g_j` is authentic when it is strictly farther from its
      nearest real sample :math:`r_{i^*(j)}` than that sample is from its own nearest real neighbour;
      :math:`A` is the authentic share of the m synthetic samples.

    With ``protocol="paper"`` the integrals are exact (closed form over the step curves). With
    ``protocol="reference"`` the numbers of the authors' published code are reproduced: k = 1, 30 grid
    points, a Riemann sum, and the β-radius over the matched synthetic samples (authenticity keeps the
    corrected definition).

    Args:
        real: ``(n, d)`` real embeddings (for authenticity: the data the generator was trained on).
        synthetic: ``(m, d)`` synthetic embeddings, same ``d``.
        k: neighbours in the β-recall ball. ``None``: 5 for ``"paper"``, 1 for ``"reference"``.
        center: ``(d,)`` real center :math:`c_r`. ``None``: the mean of ``real``. Pass
            ``OneClassEmbedding.center`` when the embeddings come from that network.
        protocol: ``"paper"`` (the definitions, exact) or ``"reference"`` (the authors' code).
        num_thresholds: points of the curves' grid in [0, 1], ends included. ``None``: 101 for
            ``"paper"``, 30 for ``"reference"``.
        chunk_size: real samples per distance block (memory ``chunk_size x max(n, m)``). ``None``: about
            2**25 elements a block. The results do not depend on it.
        sample_level: also return the per-sample output used for auditing.
        confidence_level: also return confidence intervals at this level (e.g. ``0.95``) for the expected
            scores at these sizes with both sets random, see
            :func:`faithful.functional.bootstrap_confidence_intervals`: every score is recomputed, neighbour
            balls and radii included, on random halves of both sets. Needs n >= 4 (k + 1) and m >= 4.
            ``None``: no intervals.
        num_resamples: half-sample replicates (with ``confidence_level``).
        seed: seed of the replicates' own generator (with ``confidence_level``).

    Returns:
        A dict of tensors on the input's device:

        - ``alpha_precision``, ``beta_recall``, ``authenticity``: 0-d scalars (IPα, IRβ, A).
        - ``thresholds``, ``alpha_precision_curve``, ``beta_recall_curve``: ``(num_thresholds,)``.
        - with ``sample_level=True``, per synthetic sample ``(m,)``: ``alpha_level`` (smallest α whose
          α-support holds the sample; ``inf`` beyond every real sample), ``authentic`` (bool),
          ``distance_to_real`` and ``nearest_real_index``; per real sample ``(n,)``: ``covered`` (bool,
          at β = 1) and ``beta_level`` (``inf`` when not covered).
        - with ``confidence_level``: ``alpha_precision_lower``, ``alpha_precision_upper``,
          ``beta_recall_lower``, ``beta_recall_upper``, ``authenticity_lower``, ``authenticity_upper`` (0-d).

    Raises:
        TypeError: if an input is not a floating point tensor.
        ValueError: on a wrong shape, non-finite values, fewer than ``k + 1`` real or no synthetic
            samples, or a bad ``k``, ``num_thresholds``, ``protocol``, ``center``, ``chunk_size``,
            ``confidence_level``, ``num_resamples`` or ``seed``.

    Example:
        >>> import torch
        >>> from faithful.functional import alpha_precision_beta_recall_authenticity
        >>> gen = torch.Generator().manual_seed(0)
        >>> real = torch.randn(500, 8, generator=gen)
        >>> synthetic = torch.randn(400, 8, generator=gen)
        >>> result = alpha_precision_beta_recall_authenticity(real, synthetic)
        >>> {key: round(result[key].item(), 3) for key in ("alpha_precision", "beta_recall", "authenticity")}
        {'alpha_precision': 0.938, 'beta_recall': 0.787, 'authenticity': 0.605}
        >>> copies = alpha_precision_beta_recall_authenticity(real, real[:300].clone())
        >>> copies["authenticity"].item()
        0.0
    """
    k, num_thresholds = _check_options(k, num_thresholds, protocol, chunk_size)
    if confidence_level is not None:
        _check_bootstrap_options(confidence_level, num_resamples, seed)
    real = _check_real(real, k)
    synthetic = _check_synthetic(synthetic, real.shape[1], real.device)
    center_tensor = _check_center(center, real.shape[1], real.device)
    if confidence_level is not None:
        _check_half_sizes(real.shape[0], synthetic.shape[0], k)
    stats = _real_statistics(real, k, center_tensor, chunk_size)
    result = _alpha_precision_beta_recall_authenticity_compute(
        stats,
        synthetic,
        protocol,
        num_thresholds,
        chunk_size,
        sample_level,
        _result_dtype(real, synthetic),
    )
    if confidence_level is not None:
        result.update(
            _half_sampling_intervals(
                real,
                synthetic,
                result,
                k=k,
                center=center_tensor,
                protocol=protocol,
                num_thresholds=num_thresholds,
                confidence_level=confidence_level,
                num_resamples=num_resamples,
                seed=seed,
            )
        )
    return result

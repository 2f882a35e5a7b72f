r"""α-precision, β-recall and authenticity (Alaa et al., ICML 2022) as pure tensor functions."""

from __future__ import annotations

import contextlib
import logging
import math
from typing import NamedTuple

import torch
from torch import Tensor

from faithful.functional._checks import _check_algorithm
from faithful.functional._parallel import intra_op_threads
from faithful.functional.bootstrap import _check_bootstrap_options, bootstrap_confidence_intervals
from faithful.functional.curves import curve_on_grid, deviation_integral, levels
from faithful.functional.kdtree import KDTreeIndex, build_tree, tree_cross_nearest, tree_real_knn
from faithful.functional.neighbors import (
    CrossNeighbors,
    PreparedSet,
    cross_nearest,
    prepare,
    real_knn,
    squared_distances,
)

__all__ = [
    "ALPHA_PRECISION",
    "ALPHA_PRECISION_CURVE",
    "AUTHENTICITY",
    "BETA_RECALL",
    "BETA_RECALL_CURVE",
    "PROTOCOLS",
    "SAMPLE_KEYS",
    "SCALAR_KEYS",
    "THRESHOLDS",
    "RealStatistics",
    "alpha_precision_beta_recall_authenticity",
]

#: Result keys (part of the public API).
ALPHA_PRECISION = "alpha_precision"
BETA_RECALL = "beta_recall"
AUTHENTICITY = "authenticity"
THRESHOLDS = "thresholds"
ALPHA_PRECISION_CURVE = "alpha_precision_curve"
BETA_RECALL_CURVE = "beta_recall_curve"
SCALAR_KEYS = (ALPHA_PRECISION, BETA_RECALL, AUTHENTICITY)
#: Per-sample keys: the first four are per synthetic sample, the last two per real sample.
SAMPLE_KEYS = ("alpha_level", "authentic", "distance_to_real", "nearest_real_index", "covered", "beta_level")

#: Protocol name -> (default k, default num_thresholds). "reference" fixes both (the authors' code).
PROTOCOLS = {"paper": (5, 101), "reference": (1, 30)}

log = logging.getLogger(__name__)

# The `algorithm="auto"` rule on CPU (measured crossovers, docs/performance.md): the k-d tree up to this
# dimension at any size; up to the second one once the real set is large enough for the O(n^2) brute
# force to lose against the tree's O(n log n).
_KD_TREE_MAX_DIM = 6
_KD_TREE_MAX_DIM_LARGE = 8
_KD_TREE_LARGE_N = 100_000


class RealStatistics(NamedTuple):
    """Everything that depends on the real set only; computed once, reused for every synthetic set."""

    prepared: PreparedSet | None  #: real samples, centred float32 copy for the GEMM filter (brute only)
    origin: Tensor  #: (d,) float64 shift applied to both sets before the GEMM (the real mean)
    center: Tensor  #: (d,) float64 c_r
    sorted_center_distances: Tensor  #: (n,) float64 ascending ||r_i - c_r||
    knn: Tensor  #: (n, k) float64 squared distances to the k nearest other real samples
    k: int
    algorithm: str = "brute"  #: the neighbour search that ran ("kd_tree" or "brute")
    tree: KDTreeIndex | None = None  #: the k-d tree over the real samples (kd_tree only)


# --------------------------------------------------------------------------------------------------
# validation (the public boundary)
# --------------------------------------------------------------------------------------------------


def _check_samples(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"Expected argument `{name}` to be a torch.Tensor of shape (num_samples, num_features), "
            f"but got {type(x).__name__}. Convert it with `torch.as_tensor({name})`."
        )
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(
            f"Expected argument `{name}` to be a floating point tensor, but got dtype {x.dtype}. "
            f"Convert it with `{name}.float()`."
        )
    if x.ndim != 2:
        raise ValueError(
            f"Expected argument `{name}` to be a 2-D tensor of shape (num_samples, num_features), "
            f"but got a {x.ndim}-D tensor of shape {tuple(x.shape)}. Flatten or embed the samples first."
        )
    return x


def _check_finite(x: Tensor, name: str) -> None:
    # Fast path: one vectorised sum, which any NaN or inf turns into NaN or inf. An overflowing sum of
    # finite values only sends us to the exact per-row check below.
    if x.numel() == 0 or bool(torch.isfinite(x.sum())):
        return
    bad_rows = (~torch.isfinite(x)).any(dim=1)
    num_bad = int(bad_rows.sum())
    if num_bad:
        first = torch.nonzero(bad_rows).flatten()[:10].tolist()
        raise ValueError(
            f"Expected argument `{name}` to hold only finite values, but {num_bad} of its {x.shape[0]} "
            f"samples contain NaN or inf (row indices, first 10: {first})."
        )


def _check_options(k: int | None, num_thresholds: int | None, protocol: str, chunk_size: int | None) -> tuple[int, int]:
    """Validate the options and resolve the protocol's defaults; returns (k, num_thresholds)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"Expected argument `protocol` to be one of {tuple(PROTOCOLS)}, but got {protocol!r}.")
    default_k, default_thresholds = PROTOCOLS[protocol]
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"Expected argument `k` to be a positive integer, but got {k!r}.")
    if num_thresholds is not None and (
        isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds < 2
    ):
        raise ValueError(f"Expected argument `num_thresholds` to be an integer >= 2, but got {num_thresholds!r}.")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"Expected argument `chunk_size` to be a positive integer or None, but got {chunk_size!r}.")
    if protocol == "reference":
        if k not in (None, default_k):
            raise ValueError(
                f"Expected argument `k` to be None or {default_k} with protocol='reference' (the authors' code "
                f"fixes it), but got {k!r}. Use protocol='paper' for another k."
            )
        if num_thresholds not in (None, default_thresholds):
            raise ValueError(
                f"Expected argument `num_thresholds` to be None or {default_thresholds} with protocol='reference' "
                f"(the authors' grid), but got {num_thresholds!r}. Use protocol='paper' for another grid."
            )
    return (k or default_k), (num_thresholds or default_thresholds)


def _check_center(center: object, num_features: int, device: torch.device) -> Tensor | None:
    if center is None:
        return None
    if not isinstance(center, Tensor):
        try:
            center = torch.as_tensor(center)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"Expected argument `center` to be None or a tensor of shape ({num_features},), "
                f"but got {type(center).__name__}."
            ) from err
    if center.is_complex() or not (center.is_floating_point() or center.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"Expected argument `center` to be a real-valued tensor, but got dtype {center.dtype}.")
    if center.ndim == 2 and center.shape[0] == 1:
        center = center[0]
    if tuple(center.shape) != (num_features,):
        raise ValueError(
            f"Expected argument `center` to have shape ({num_features},) (one value per feature), "
            f"but got shape {tuple(center.shape)}."
        )
    if not bool(torch.isfinite(center).all()):
        raise ValueError("Expected argument `center` to hold only finite values, but it contains NaN or inf.")
    return center.to(device=device, dtype=torch.float64)


def _check_real(real: object, k: int) -> Tensor:
    real = _check_samples(real, "real")
    if real.shape[0] < k + 1:
        raise ValueError(
            f"Expected argument `real` to hold at least k + 1 = {k + 1} samples (each needs k = {k} other real "
            f"neighbours), but got {real.shape[0]}."
        )
    _check_finite(real, "real")
    return real


def _check_synthetic(synthetic: object, num_features: int, device: torch.device) -> Tensor:
    synthetic = _check_samples(synthetic, "synthetic")
    if synthetic.shape[0] < 1:
        raise ValueError("Expected argument `synthetic` to hold at least 1 sample, but got 0.")
    if synthetic.shape[1] != num_features:
        raise ValueError(
            f"Expected `real` and `synthetic` to have the same number of features, but got {num_features} "
            f"for real and {synthetic.shape[1]} for synthetic (shape {tuple(synthetic.shape)})."
        )
    if synthetic.device != device:
        raise ValueError(
            f"Expected `real` and `synthetic` on the same device, but got {device} and {synthetic.device}."
        )
    _check_finite(synthetic, "synthetic")
    return synthetic


def _resolve_algorithm(algorithm: str, real: Tensor) -> str:
    """The search to run for ``real``: "auto" decided by device, dimension and size; kd_tree needs the CPU."""
    num, dim = real.shape
    if algorithm == "kd_tree" and real.device.type != "cpu":
        raise ValueError(
            f"Expected CPU tensors with `algorithm='kd_tree'` (the tree runs on the CPU), but got tensors on "
            f"{real.device}. Use algorithm='brute', or 'auto' (which picks brute off the CPU)."
        )
    if algorithm == "auto":
        low_dim = dim <= _KD_TREE_MAX_DIM or (dim <= _KD_TREE_MAX_DIM_LARGE and num >= _KD_TREE_LARGE_N)
        algorithm = "kd_tree" if real.device.type == "cpu" and low_dim else "brute"
    return algorithm


# --------------------------------------------------------------------------------------------------
# computation (trusts its inputs)
# --------------------------------------------------------------------------------------------------


def _center_distances(x: Tensor, center: Tensor) -> Tensor:
    """Exact ||x_i - center|| in float64."""
    return squared_distances(x, center.unsqueeze(0).expand(x.shape[0], -1)).sqrt()


def _real_statistics(
    real: Tensor, k: int, center: Tensor | None = None, chunk_size: int | None = None, algorithm: str = "auto"
) -> RealStatistics:
    """Real-side quantities: the search's index (GEMM copy or tree), c_r, the α-radii's distances, NND_1..NND_k."""
    algorithm = _resolve_algorithm(algorithm, real)
    num, dim = real.shape
    log.debug("neighbour search: algorithm=%s (n=%d real samples, d=%d, device %s)", algorithm, num, dim, real.device)
    with _cpu_threads(real.device):
        return _real_statistics_impl(real, k, center, chunk_size, algorithm)


def _cpu_threads(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """On the CPU: one intra-op thread for the many small ops (the searches share their row bands and query
    blocks among their own worker threads, sized from torch's thread count before this scope)."""
    return intra_op_threads(1) if device.type == "cpu" else contextlib.nullcontext()


def _real_statistics_impl(
    real: Tensor, k: int, center: Tensor | None, chunk_size: int | None, algorithm: str
) -> RealStatistics:
    origin = real.to(torch.float64).mean(dim=0)
    c_r = origin if center is None else center
    center_distances = torch.sort(_center_distances(real, c_r)).values
    if algorithm == "kd_tree":
        tree = build_tree(real)
        knn = tree_real_knn(tree, k)
        return RealStatistics(None, origin, c_r, center_distances, knn, k, algorithm, tree)
    prepared = prepare(real, origin)
    knn = real_knn(prepared, k, chunk_size)
    return RealStatistics(prepared, origin, c_r, center_distances, knn, k, algorithm)


def _cross_neighbors(stats: RealStatistics, synthetic: Tensor, chunk_size: int | None) -> CrossNeighbors:
    """Both nearest-neighbour directions with the real side's algorithm (its tree or GEMM copy reused)."""
    if stats.tree is not None:
        return tree_cross_nearest(stats.tree, synthetic)
    assert stats.prepared is not None  # brute statistics always hold the GEMM copy
    return cross_nearest(stats.prepared, prepare(synthetic, stats.origin), chunk_size)


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
    with _cpu_threads(synthetic.device):
        return _compute_impl(stats, synthetic, protocol, num_thresholds, chunk_size, sample_level, dtype)


def _compute_impl(
    stats: RealStatistics,
    synthetic: Tensor,
    protocol: str,
    num_thresholds: int,
    chunk_size: int | None,
    sample_level: bool,
    dtype: torch.dtype,
) -> dict[str, Tensor]:
    n = stats.sorted_center_distances.numel()
    m = synthetic.shape[0]
    device = synthetic.device
    neighbors = _cross_neighbors(stats, synthetic, chunk_size)

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


def _result_dtype(*tensors: Tensor) -> torch.dtype:
    """float64 in, float64 out; anything narrower (half, bfloat16, float32) reports in float32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


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
    num_resamples: int = 1000,
    seed: int = 0,
    algorithm: str = "auto",
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
        confidence_level: also return percentile bootstrap intervals at this level (e.g. ``0.95``), see
            :func:`faithful.functional.bootstrap_confidence_intervals`: the synthetic samples are resampled
            for IPα and A, the real ones for IRβ, with the radii and neighbour balls held fixed (no
            neighbour search is repeated). ``None``: no intervals.
        num_resamples: bootstrap resamples (with ``confidence_level``).
        seed: seed of the bootstrap's own generator (with ``confidence_level``).
        algorithm: the exact neighbour search: ``"kd_tree"`` (a k-d tree, CPU only), ``"brute"`` (tiled matrix
            products, any device) or ``"auto"``: the tree on CPU at low dimension (d <= 6, or d <= 8 from
            100,000 real samples), brute otherwise. Every algorithm returns the same bits; only the time differs.
            The choice is logged at DEBUG level (logger ``faithful.functional.apra``).

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
            ``confidence_level``, ``num_resamples``, ``seed`` or ``algorithm`` (also ``"kd_tree"`` off the CPU).

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
    algorithm = _check_algorithm(algorithm)
    if confidence_level is not None:
        _check_bootstrap_options(confidence_level, num_resamples, seed)
    real = _check_real(real, k)
    synthetic = _check_synthetic(synthetic, real.shape[1], real.device)
    center_tensor = _check_center(center, real.shape[1], real.device)
    stats = _real_statistics(real, k, center_tensor, chunk_size, algorithm)
    result = _alpha_precision_beta_recall_authenticity_compute(
        stats,
        synthetic,
        protocol,
        num_thresholds,
        chunk_size,
        sample_level or confidence_level is not None,
        _result_dtype(real, synthetic),
    )
    if confidence_level is not None:
        result.update(
            bootstrap_confidence_intervals(
                result,
                confidence_level=confidence_level,
                num_resamples=num_resamples,
                seed=seed,
                protocol=protocol,
                num_thresholds=num_thresholds,
            )
        )
        if not sample_level:
            for key in SAMPLE_KEYS:
                del result[key]
    return result

r"""α-precision, β-recall and authenticity (Alaa et al., ICML 2022) as pure tensor functions."""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from faithful.functional import _kernels
from faithful.functional._checks import (
    ALPHA_PRECISION,
    ALPHA_PRECISION_CURVE,
    AUTHENTICITY,
    BETA_RECALL,
    BETA_RECALL_CURVE,
    THRESHOLDS,
    _check_algorithm,
    _check_bootstrap_options,
    _check_center,
    _check_finite,
    _check_options,
    _check_real,
    _check_real_flag,
    _check_samples,
    _check_synthetic,
    _result_dtype,
)
from faithful.functional._parallel import intra_op_threads
from faithful.functional.bootstrap import _check_half_sizes, _half_sampling_intervals
from faithful.functional.curves import curve_on_grid, deviation_integral, grid_weight, levels, sort_values
from faithful.functional.kdtree import KDTreeIndex, build_tree, tree_cross_nearest, tree_real_knn
from faithful.functional.neighbors import (
    CrossNeighbors,
    PreparedSet,
    cross_nearest,
    merge_cross,
    merge_knn,
    prepare,
    real_knn,
    squared_distances,
)

__all__ = ["RealStatistics", "Scores", "alpha_precision_beta_recall_authenticity"]

# Float64 squared distances overflow past about 1e154 and lose small differences to underflow below about
# 1e-154; inside these bounds (2**±400) the spread of the data leaves every distance representable.
_SAFE_SPREAD = (2.0**-400, 2.0**400)

log = logging.getLogger(__name__)

# The `algorithm="auto"` rule on CPU (measured crossovers, docs/performance.md): the k-d tree up to this
# dimension at any size; up to the second one once the real set is large enough for the O(n^2) brute
# force to lose against the tree's O(n log n).
_KD_TREE_MAX_DIM = 6
_KD_TREE_MAX_DIM_LARGE = 8
# With numba both sides are compiled (the k-d tree; the brute force's tile products at small d and its filter):
# at d = 8 the tree takes 1.40x the brute force's time at 50,000 real samples and 0.92x at 100,000 (d = 7: 0.84x at
# 50,000). Without numba (cKDTree against the BLAS and the torch filter) the tree wins from about 50,000.
_KD_TREE_LARGE_N = {True: 100_000, False: 50_000}


def _kd_tree_large_n() -> int:
    return _KD_TREE_LARGE_N[_kernels.AVAILABLE]


class Shard(NamedTuple):
    """This process's part of a neighbour search shared among ``world_size`` processes that hold the same sets.

    ``all_gather(t)`` returns every process's ``t`` (same shape and dtype on all of them) in process order; it
    is a collective, so every process must call it alike. Each process searches its share of the rows (the
    symmetric real x real bands balanced by cost, the real x synthetic bands, or the tree's query rows) and the
    partial per-row results are gathered and merged: O(world_size x (n + m)) numbers travel, never the distances.
    """

    rank: int
    world_size: int
    all_gather: Callable[[Tensor], list[Tensor]]


def _share(num: int, shard: Shard) -> slice:
    """The contiguous rows of ``num`` that ``shard`` queries (even shares, the first ones one row longer)."""
    size, extra = divmod(num, shard.world_size)
    start = shard.rank * size + min(shard.rank, extra)
    return slice(start, start + size + (1 if shard.rank < extra else 0))


def _gathered_cross(part: CrossNeighbors, shard: Shard) -> CrossNeighbors:
    """Every process's partial search, merged (the same on every process)."""
    gathered = [shard.all_gather(t.contiguous()) for t in part]
    return merge_cross([CrossNeighbors(*tensors) for tensors in zip(*gathered, strict=True)])


class RealStatistics(NamedTuple):
    """Everything that depends on the real set only; computed once, reused for every synthetic set."""

    real: Tensor  #: the real samples as given (before any scaling), to recognise the set again
    real_version: int  #: ``real._version`` then: an in-place change of the same tensor is seen too
    given_center: Tensor | None  #: (d,) float64 center as given (None: the real mean)
    scale: float  #: power of two applied to both sets and the center before the search (1.0: none)
    prepared: PreparedSet | None  #: scaled real samples, centred float32 copy for the GEMM filter (brute only)
    origin: Tensor  #: (d,) float64 shift applied to both sets before the GEMM (the real mean)
    center: Tensor  #: (d,) float64 c_r (scaled)
    sorted_center_distances: Tensor  #: (n,) float64 ascending ||r_i - c_r|| (scaled)
    knn: Tensor  #: (n, k) float64 squared distances to the k nearest other real samples (scaled)
    k: int
    algorithm: str = "brute"  #: the neighbour search that ran ("kd_tree" or "brute")
    tree: KDTreeIndex | None = None  #: the k-d tree over the scaled real samples (kd_tree only)


# --------------------------------------------------------------------------------------------------
# computation (trusts its inputs)
# --------------------------------------------------------------------------------------------------


class Scores(NamedTuple):
    """What ``_alpha_precision_beta_recall_authenticity_compute`` returns: the result and what it came from."""

    real_statistics: RealStatistics
    result: dict[str, Tensor] | None  #: None: only the real statistics are kept (a metric's reset)
    synthetic: Tensor | None
    synthetic_version: int
    protocol: str
    num_thresholds: int
    sample_level: bool


def _center_distances(x: Tensor, center: Tensor) -> Tensor:
    """Exact ||x_i - center|| in float64."""
    return squared_distances(x, center.unsqueeze(0).expand(x.shape[0], -1)).sqrt()


def _search_scale(real: Tensor, synthetic: Tensor, center: Tensor | None) -> float:
    """A power of two that brings the data's spread near 1 when float64 distances would over- or underflow.

    Scaling by a power of two is exact, and every comparison the scores make (radii, nearest neighbours,
    quantiles) is invariant under it, so the scaled problem gives the unscaled one's flags bit for bit;
    only the reported distances are scaled back. Float32 and narrower inputs never need it (their squares
    fit float64), so ordinary data pays for two column-wise extremes and nothing else.
    """
    if real.dtype != torch.float64 and synthetic.dtype != torch.float64:
        return 1.0
    highs = [real.amax(dim=0).to(torch.float64), synthetic.amax(dim=0).to(torch.float64)]
    lows = [real.amin(dim=0).to(torch.float64), synthetic.amin(dim=0).to(torch.float64)]
    if center is not None:
        highs.append(center)
        lows.append(center)
    high = torch.stack(highs).amax(dim=0)
    low = torch.stack(lows).amin(dim=0)
    spread = float((high - low).max())
    if spread == 0.0 or _SAFE_SPREAD[0] <= spread <= _SAFE_SPREAD[1]:
        return 1.0
    exponent = math.frexp(spread)[1]
    # Keep the largest absolute value finite after scaling (an offset far larger than the spread).
    magnitude = float(torch.maximum(high.abs(), low.abs()).max())
    exponent = max(exponent, math.frexp(magnitude)[1] - 1000)
    return math.ldexp(1.0, -exponent)


def _scaled(x: Tensor, scale: float) -> Tensor:
    # float64 so that a float32 set scaled with a float64 one cannot underflow or overflow float32.
    return x if scale == 1.0 else x.to(torch.float64) * scale


def _rank_zero_warn(message: str) -> None:
    """A UserWarning, from one process only under torch.distributed (every process finds the same rows)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_rank():
        return
    warnings.warn(message, UserWarning, stacklevel=3)


def _resolve_algorithm(algorithm: str, real: Tensor) -> str:
    """The search to run for ``real``: "auto" decided by device, dimension and size; kd_tree needs the CPU."""
    num, dim = real.shape
    if algorithm == "kd_tree" and real.device.type != "cpu":
        raise ValueError(
            f"Expected CPU tensors with `algorithm='kd_tree'` (the tree runs on the CPU), but got tensors on "
            f"{real.device}. Use algorithm='brute', or 'auto' (which picks brute off the CPU)."
        )
    if algorithm == "auto":
        low_dim = dim <= _KD_TREE_MAX_DIM or (dim <= _KD_TREE_MAX_DIM_LARGE and num >= _kd_tree_large_n())
        algorithm = "kd_tree" if real.device.type == "cpu" and low_dim else "brute"
    return algorithm


def _cpu_threads(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """On the CPU: one intra-op thread for the many small ops (the searches share their row bands and query
    blocks among their own worker threads, sized from torch's thread count before this scope)."""
    return intra_op_threads(1) if device.type == "cpu" else contextlib.nullcontext()


def _warn_duplicates(knn: Tensor) -> None:
    """Duplicated real rows make their own nearest-neighbour distance 0, which changes what authentic means."""
    num_duplicated = int((knn[:, 0] == 0).sum())
    if num_duplicated:
        _rank_zero_warn(
            f"{num_duplicated} of the {knn.shape[0]} real samples have an exact duplicate among the real samples. "
            "Their nearest real neighbour is at distance 0, so a synthetic sample close to them counts as authentic "
            "unless it is an exact copy: near-copies of duplicated training rows pass as authentic. Remove the "
            "duplicates (e.g. `torch.unique(real, dim=0)`) for authenticity to flag near-copies."
        )


def _real_statistics(
    real: Tensor,
    k: int,
    center: Tensor | None = None,
    chunk_size: int | None = None,
    scale: float = 1.0,
    algorithm: str = "auto",
    shard: Shard | None = None,
) -> RealStatistics:
    """Real-side quantities: the search's index (GEMM copy or tree), c_r, the α-radii's distances, NND_1..NND_k."""
    algorithm = _resolve_algorithm(algorithm, real)
    num, dim = real.shape
    log.debug("neighbour search: algorithm=%s (n=%d real samples, d=%d, device %s)", algorithm, num, dim, real.device)
    with _cpu_threads(real.device):
        scaled_real = _scaled(real, scale)
        origin = scaled_real.to(torch.float64).mean(dim=0)
        c_r = origin if center is None else center * scale
        center_distances = sort_values(_center_distances(scaled_real, c_r))
        prepared, tree = None, None
        if algorithm == "kd_tree":
            tree = build_tree(scaled_real)  # every process builds the whole tree: O(n log n), cheap
            if shard is None:
                knn = tree_real_knn(tree, k)
            else:
                rows = _share(num, shard)
                knn = torch.full((num, k), math.inf, dtype=torch.float64, device=real.device)
                knn[rows] = tree_real_knn(tree, k, rows=rows)
                knn = merge_knn(shard.all_gather(knn), k)
        else:
            prepared = prepare(scaled_real, origin)
            part = None if shard is None else (shard.rank, shard.world_size)
            knn = real_knn(prepared, k, chunk_size, part=part)
            if shard is not None:
                knn = merge_knn(shard.all_gather(knn), k)
    _warn_duplicates(knn)
    return RealStatistics(
        real, real._version, center, scale, prepared, origin, c_r, center_distances, knn, k, algorithm, tree
    )


def _cross_neighbors(
    stats: RealStatistics, synthetic: Tensor, chunk_size: int | None, shard: Shard | None = None
) -> CrossNeighbors:
    """Both nearest-neighbour directions with the real side's algorithm (its tree or GEMM copy reused)."""
    if stats.tree is not None:
        if shard is None:
            return tree_cross_nearest(stats.tree, synthetic)
        real_rows, synthetic_rows = _share(stats.knn.shape[0], shard), _share(synthetic.shape[0], shard)
        part = tree_cross_nearest(stats.tree, synthetic, real_rows=real_rows, synthetic_rows=synthetic_rows)
        return _gathered_cross(part, shard)
    assert stats.prepared is not None  # brute statistics always hold the GEMM copy
    prepared = prepare(synthetic, stats.origin)
    if shard is None:
        return cross_nearest(stats.prepared, prepared, chunk_size)
    return _gathered_cross(
        cross_nearest(stats.prepared, prepared, chunk_size, part=(shard.rank, shard.world_size)), shard
    )


def _same_tensor(a: Tensor | None, b: Tensor | None, version: int | None = None) -> bool:
    """Same values, shape, dtype and device (an O(size) check, far below the neighbour search it saves).

    ``version``: ``a._version`` when ``a`` was used; the same tensor changed in place since is not the same.
    """
    if a is None or b is None:
        return a is b
    if a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride() and a.dtype == b.dtype:
        # The same memory (the tensor itself, or a detached view of it): equal unless changed in place since.
        return version is None or b._version == version
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and bool(torch.equal(a, b))


def _reusable(stats: RealStatistics | None, real: Tensor, k: int, center: Tensor | None, scale: float) -> bool:
    """Whether ``stats`` were computed from this real set with these options."""
    return (
        stats is not None
        and stats.k == k
        and stats.scale == scale
        and _same_tensor(stats.given_center, center)
        and _same_tensor(stats.real, real, stats.real_version)
    )


def _score(
    stats: RealStatistics,
    synthetic: Tensor,
    protocol: str,
    num_thresholds: int,
    chunk_size: int | None = None,
    sample_level: bool = False,
    dtype: torch.dtype = torch.float32,
    shard: Shard | None = None,
) -> dict[str, Tensor]:
    """Everything that involves the synthetic set; ``stats`` may be cached across calls."""
    with _cpu_threads(synthetic.device):
        return _score_impl(stats, synthetic, protocol, num_thresholds, chunk_size, sample_level, dtype, shard)


def _score_impl(
    stats: RealStatistics,
    synthetic: Tensor,
    protocol: str,
    num_thresholds: int,
    chunk_size: int | None,
    sample_level: bool,
    dtype: torch.dtype,
    shard: Shard | None,
) -> dict[str, Tensor]:
    n = stats.sorted_center_distances.numel()
    synthetic = _scaled(synthetic, stats.scale)
    m = synthetic.shape[0]
    device = synthetic.device
    neighbors = _cross_neighbors(stats, synthetic, chunk_size, shard)

    # α-precision: synthetic distances to c_r against the quantiles of the real ones.
    synthetic_to_center = _center_distances(synthetic, stats.center)
    alpha_level = levels(synthetic_to_center, stats.sorted_center_distances)

    # β-recall: real i is covered when its nearest synthetic is inside r_i's k-NN ball and β-typical.
    synthetic_center = synthetic.to(torch.float64).mean(dim=0)
    synthetic_to_own_center = _center_distances(synthetic, synthetic_center)
    matched = synthetic_to_own_center[neighbors.real_to_synthetic_index]
    in_ball = neighbors.real_to_synthetic <= stats.knn[:, stats.k - 1]
    # SPEC: the β-support is a quantile over all m synthetic samples; the authors' code (and synthcity) used
    # the n matched ones, which "reference" and "synthcity" reproduce.
    beta_reference = sort_values(synthetic_to_own_center if protocol == "paper" else matched)
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
    else:  # a sum over the 30 grid points, unclipped, normalised as the published code does
        weight = grid_weight(protocol, grid)
        alpha_precision = 1.0 - weight * (alpha_curve - grid).abs().sum()
        beta_recall = 1.0 - weight * (beta_curve - grid).abs().sum()

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
            distance_to_real=(neighbors.synthetic_to_real.sqrt() / stats.scale).to(dtype),
            nearest_real_index=nearest,
            covered=in_ball,
            beta_level=beta_level.to(dtype),
            # For the audit views: how far the generator stays from each real sample (missed modes), and
            # NND_1, the yardstick of authenticity (a copy is closer to its real sample than this).
            distance_to_synthetic=(neighbors.real_to_synthetic.sqrt() / stats.scale).to(dtype),
            real_nearest_neighbor_distance=(stats.knn[:, 0].sqrt() / stats.scale).to(dtype),
        )
    return result


def _alpha_precision_beta_recall_authenticity_update(
    x: object, real: object, num_features: int | None = None, name: str = "x"
) -> tuple[Tensor, bool]:
    """Check one batch of the metric's ``update``; returns the samples to keep (detached) and the flag.

    ``num_features`` is the feature count of the earlier batches (``None``: first batch).
    """
    is_real = _check_real_flag(real)
    features = _check_samples(x, name)
    if num_features is not None and features.shape[1] != num_features:
        raise ValueError(
            f"Expected argument `{name}` to have {num_features} features like the earlier updates, but got shape "
            f"{tuple(features.shape)}."
        )
    _check_finite(features, f"{name} (real={is_real})")
    return features.detach(), is_real


def _alpha_precision_beta_recall_authenticity_compute(
    real: Tensor,
    synthetic: Tensor,
    *,
    k: int,
    center: Tensor | None,
    protocol: str,
    num_thresholds: int,
    chunk_size: int | None = None,
    sample_level: bool = False,
    previous: Scores | None = None,
    algorithm: str = "auto",
    shard: Shard | None = None,
) -> Scores:
    """Scores of the accumulated sets (validated here); the options must have passed ``_check_options``.

    ``previous`` is what an earlier call returned. When it was computed from equal sets (compared by value:
    a loaded state dict, ``set_dtype`` or ``to()`` are seen) with the same options it is returned as it is;
    when only the real set and ``k``/center match, its real statistics are reused, so a training loop pays
    for the real x real search once. ``shard``: this process's part when several processes hold the same
    (gathered) sets and share the search; every process then returns the same scores.
    """
    real = _check_real(real, k)
    synthetic = _check_synthetic(synthetic, real.shape[1], real.device)
    center_tensor = _check_center(center, real.shape[1], real.device)
    scale = _search_scale(real, synthetic, center_tensor)
    stats = None if previous is None else previous.real_statistics
    if stats is None or not _reusable(stats, real, k, center_tensor, scale):
        stats = _real_statistics(real, k, center_tensor, chunk_size, scale, algorithm, shard)
    elif (
        previous is not None
        and previous.result is not None
        and previous.protocol == protocol
        and previous.num_thresholds == num_thresholds
        and (previous.sample_level or not sample_level)
        and _same_tensor(previous.synthetic, synthetic, previous.synthetic_version)
    ):
        return previous
    dtype = _result_dtype(real, synthetic)
    result = _score(stats, synthetic, protocol, num_thresholds, chunk_size, sample_level, dtype, shard)
    return Scores(stats, result, synthetic, synthetic._version, protocol, num_thresholds, sample_level)


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
    corrected definition). ``protocol="synthcity"`` reproduces synthcity 0.2.12's ``AlphaPrecision`` "naive"
    keys, which tabular-generation papers report: the same curves, scored as
    ``1 - Σ|curve - grid| / Σ grid``; any n and m; corrected authenticity. synthcity's ``evaluate()`` also
    min-max scales both tables (fitted on the real one) and drops the last column first: the arrays here are
    taken as given, see ``docs/reproducing.md`` for the full recipe.

    Args:
        real: ``(n, d)`` real embeddings (for authenticity: the data the generator was trained on).
        synthetic: ``(m, d)`` synthetic embeddings, same ``d``.
        k: neighbours in the β-recall ball. ``None``: 5 for ``"paper"``, 1 for ``"reference"`` and
            ``"synthcity"`` (which fix it).
        center: ``(d,)`` real center :math:`c_r`. ``None``: the mean of ``real``. Pass
            ``OneClassEmbedding.center`` when the embeddings come from that network.
        protocol: ``"paper"`` (the definitions, exact), ``"reference"`` (the authors' code) or
            ``"synthcity"`` (synthcity 0.2.12's naive keys).
        num_thresholds: points of the curves' grid in [0, 1], ends included. ``None``: 101 for
            ``"paper"``, 30 for ``"reference"`` and ``"synthcity"`` (which fix it).
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
        algorithm: the exact neighbour search: ``"kd_tree"`` (a k-d tree, CPU only), ``"brute"`` (tiled matrix
            products, any device) or ``"auto"``: the tree on CPU at low dimension (d <= 6, or d <= 8 from
            100,000 real samples; 50,000 without numba), brute otherwise. Every algorithm returns the same bits;
            only the time differs.
            The choice is logged at DEBUG level (logger ``faithful.functional.apra``).

    Returns:
        A dict of tensors on the input's device:

        - ``alpha_precision``, ``beta_recall``, ``authenticity``: 0-d scalars (IPα, IRβ, A).
        - ``thresholds``, ``alpha_precision_curve``, ``beta_recall_curve``: ``(num_thresholds,)``.
        - with ``sample_level=True``, per synthetic sample ``(m,)``: ``alpha_level`` (smallest α whose
          α-support holds the sample; ``inf`` beyond every real sample), ``authentic`` (bool),
          ``distance_to_real`` and ``nearest_real_index``; per real sample ``(n,)``: ``covered`` (bool,
          at β = 1), ``beta_level`` (``inf`` when not covered), ``distance_to_synthetic`` (to the nearest
          synthetic sample) and ``real_nearest_neighbor_distance`` (NND_1, to the nearest other real sample).
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
        # Before the search, so that sets too small for half-sampling fail at once (the rest is checked below).
        if isinstance(real, Tensor) and isinstance(synthetic, Tensor) and real.ndim == 2 == synthetic.ndim:
            _check_half_sizes(real.shape[0], synthetic.shape[0], k)
    scores = _alpha_precision_beta_recall_authenticity_compute(
        real,
        synthetic,
        k=k,
        center=center,
        protocol=protocol,
        num_thresholds=num_thresholds,
        chunk_size=chunk_size,
        sample_level=sample_level,
        algorithm=algorithm,
    )
    result = dict(scores.result or {})
    if confidence_level is not None:
        assert scores.synthetic is not None
        result.update(
            _half_sampling_intervals(
                scores.real_statistics.real,
                scores.synthetic,
                result,
                k=k,
                center=scores.real_statistics.given_center,
                protocol=protocol,
                num_thresholds=num_thresholds,
                confidence_level=confidence_level,
                num_resamples=num_resamples,
                seed=seed,
            )
        )
    return result

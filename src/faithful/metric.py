"""``AlphaPrecisionBetaRecallAuthenticity``: the torchmetrics shell around the functional core."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from faithful.functional._checks import _check_algorithm
from faithful.functional.apra import (
    ALPHA_PRECISION,
    ALPHA_PRECISION_CURVE,
    AUTHENTICITY,
    BETA_RECALL,
    BETA_RECALL_CURVE,
    SAMPLE_KEYS,
    THRESHOLDS,
    RealStatistics,
    _alpha_precision_beta_recall_authenticity_compute,
    _check_center,
    _check_finite,
    _check_options,
    _check_real,
    _check_synthetic,
    _real_statistics,
    _result_dtype,
)
from faithful.functional.bootstrap import _check_bootstrap_options, bootstrap_confidence_intervals

__all__ = ["AlphaPrecisionBetaRecallAuthenticity"]

_COMPUTE_KEYS = (
    ALPHA_PRECISION,
    BETA_RECALL,
    AUTHENTICITY,
    THRESHOLDS,
    ALPHA_PRECISION_CURVE,
    BETA_RECALL_CURVE,
)


class AlphaPrecisionBetaRecallAuthenticity(Metric):
    r"""α-precision, β-recall and authenticity (Alaa et al., ICML 2022) of generated samples.

    Fidelity (:math:`IP_\alpha`), diversity (:math:`IR_\beta`) and generalization (authenticity :math:`A`)
    of synthetic samples against real ones, computed exactly by
    :func:`faithful.functional.alpha_precision_beta_recall_authenticity` (see there for the maths).

    As input to ``update`` the metric accepts

    - ``x`` (:class:`~torch.Tensor`): ``(N, d)`` embeddings, or raw inputs of any shape that
      ``feature_extractor`` maps to ``(N, d)`` embeddings;
    - ``real`` (:class:`bool`): whether ``x`` are real samples (for authenticity: the data the generator
      was trained on) or synthetic ones.

    As output of ``compute`` the metric returns a dict with

    - ``alpha_precision``, ``beta_recall``, ``authenticity``: 0-d tensors (IPα, IRβ, A), each in [0, 1];
    - ``thresholds``, ``alpha_precision_curve``, ``beta_recall_curve``: ``(num_thresholds,)`` curves;
    - with ``confidence_level``: ``alpha_precision_lower``, ``alpha_precision_upper``, ``beta_recall_lower``,
      ``beta_recall_upper``, ``authenticity_lower``, ``authenticity_upper`` (0-d bootstrap bounds).

    ``sample_scores()`` returns the per-sample output (``alpha_level``, ``authentic``,
    ``distance_to_real``, ``nearest_real_index`` per synthetic sample and ``covered``, ``beta_level``
    per real sample), in the order the samples were added (under DDP: rank 0's, then rank 1's, ...).

    The metric keeps every embedding in list states (memory ``(n + m) x d``), gathered across processes
    under DDP, so every process computes the same result. With ``reset_real_features=False`` the real
    embeddings *and* everything derived from them alone (nearest real neighbours, the α-radii) survive
    ``reset()``: in a training loop each evaluation then only pays for the real x synthetic work.

    Args:
        k: neighbours in the β-recall ball. ``None``: 5 (``protocol="paper"``), 1 (``"reference"``).
        center: fixed real center :math:`c_r`, shape ``(d,)``. ``None``: ``feature_extractor.center``
            when the extractor has one (e.g. :class:`faithful.OneClassEmbedding`), else the real mean.
        protocol: ``"paper"`` (the paper's definitions, exact integrals) or ``"reference"`` (the numbers
            of the authors' published code).
        num_thresholds: grid points of the curves. ``None``: 101 (``"paper"``), 30 (``"reference"``).
        feature_extractor: optional module applied to ``x`` in ``update`` (under ``torch.no_grad`` and in
            eval mode, restored afterwards).
        reset_real_features: whether ``reset()`` also drops the real embeddings and their cache.
        chunk_size: real samples per distance block; ``None`` picks one. Results do not depend on it.
        confidence_level: also return percentile bootstrap intervals at this level (e.g. ``0.95``) from
            ``compute()``; see :func:`faithful.functional.bootstrap_confidence_intervals` for what they cover.
            ``None``: no intervals.
        num_resamples: bootstrap resamples (with ``confidence_level``).
        seed: seed of the bootstrap's own generator; every process and every ``compute()`` draws the same
            resamples.
        algorithm: the exact neighbour search, ``"auto"``, ``"kd_tree"`` (CPU only) or ``"brute"``; see
            :func:`faithful.functional.alpha_precision_beta_recall_authenticity`. The k-d tree over the real
            samples is cached with the other real-side quantities (built once while the real set is unchanged).
        kwargs: forwarded to :class:`torchmetrics.Metric` (``dist_sync_on_step``, ``compute_on_cpu``...).

    Raises:
        ValueError: on a bad ``k``, ``protocol``, ``num_thresholds``, ``chunk_size``, ``algorithm``,
            ``reset_real_features``, ``confidence_level``, ``num_resamples`` or ``seed``, and (in
            ``update``/``compute``) on bad samples as the functional API.
        TypeError: if ``feature_extractor`` is not a ``torch.nn.Module``.

    Example:
        >>> import torch
        >>> from faithful import AlphaPrecisionBetaRecallAuthenticity
        >>> gen = torch.Generator().manual_seed(0)
        >>> metric = AlphaPrecisionBetaRecallAuthenticity()
        >>> metric.update(torch.randn(500, 8, generator=gen), real=True)
        >>> for _ in range(4):
        ...     metric.update(torch.randn(100, 8, generator=gen), real=False)
        >>> result = metric.compute()
        >>> {key: round(result[key].item(), 3) for key in ("alpha_precision", "beta_recall", "authenticity")}
        {'alpha_precision': 0.938, 'beta_recall': 0.787, 'authenticity': 0.605}
        >>> scores = metric.sample_scores()
        >>> scores["authentic"].shape, scores["covered"].shape
        (torch.Size([400]), torch.Size([500]))
    """

    is_differentiable: bool = False
    higher_is_better: bool = True
    full_state_update: bool = False
    plot_lower_bound: float = 0.0
    plot_upper_bound: float = 1.0

    real_features: list[Tensor]
    synthetic_features: list[Tensor]

    def __init__(
        self,
        k: int | None = None,
        center: Tensor | None = None,
        protocol: str = "paper",
        num_thresholds: int | None = None,
        feature_extractor: nn.Module | None = None,
        reset_real_features: bool = True,
        chunk_size: int | None = None,
        confidence_level: float | None = None,
        num_resamples: int = 1000,
        seed: int = 0,
        algorithm: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.k, self.num_thresholds = _check_options(k, num_thresholds, protocol, chunk_size)
        self.algorithm = _check_algorithm(algorithm)
        if confidence_level is not None:
            _check_bootstrap_options(confidence_level, num_resamples, seed)
        self.confidence_level = confidence_level
        self.num_resamples = num_resamples
        self.seed = seed
        self.protocol = protocol
        self.chunk_size = chunk_size
        if feature_extractor is not None and not isinstance(feature_extractor, nn.Module):
            raise TypeError(
                "Expected argument `feature_extractor` to be None or a torch.nn.Module, "
                f"but got {type(feature_extractor).__name__}."
            )
        self.feature_extractor = feature_extractor
        if not isinstance(reset_real_features, bool):
            raise ValueError(f"Expected argument `reset_real_features` to be a bool, but got {reset_real_features!r}.")
        self.reset_real_features = reset_real_features
        self.center = center
        self.add_state("real_features", default=[], dist_reduce_fx="cat")
        self.add_state("synthetic_features", default=[], dist_reduce_fx="cat")
        self._num_features: int | None = None
        # Real-only quantities, valid while no real sample is added (see `_real_side`).
        self._real_version = 0
        self._real_cache: tuple[tuple[Any, ...], RealStatistics] | None = None
        self._result_cache: tuple[tuple[Any, ...], dict[str, Tensor]] | None = None

    # ------------------------------------------------------------------------------------------ update

    def _embed(self, x: Tensor) -> Tensor:
        extractor = self.feature_extractor
        if extractor is None:
            return x
        was_training = extractor.training
        extractor.eval()
        try:
            with torch.no_grad():
                return extractor(x)
        finally:
            extractor.train(was_training)

    def update(self, x: Tensor, real: bool) -> None:
        """Add a batch of real (``real=True``) or synthetic (``real=False``) samples."""
        if not isinstance(real, bool):
            raise TypeError(f"Expected argument `real` to be a bool, but got {type(real).__name__}.")
        if not isinstance(x, Tensor):
            raise TypeError(f"Expected argument `x` to be a torch.Tensor, but got {type(x).__name__}.")
        features = self._embed(x)
        name = "x" if self.feature_extractor is None else "feature_extractor(x)"
        if not isinstance(features, Tensor) or features.is_complex() or not features.is_floating_point():
            got = features.dtype if isinstance(features, Tensor) else type(features).__name__
            raise TypeError(f"Expected `{name}` to be a floating point tensor, but got {got}.")
        if features.ndim != 2:
            raise ValueError(
                f"Expected `{name}` to be a 2-D tensor of shape (num_samples, num_features), but got shape "
                f"{tuple(features.shape)}."
            )
        if self._num_features is not None and features.shape[1] != self._num_features:
            raise ValueError(
                f"Expected `{name}` to have {self._num_features} features like the earlier updates, but got "
                f"shape {tuple(features.shape)}."
            )
        _check_finite(features, f"{name} (real={real})")
        self._num_features = features.shape[1]
        features = features.detach()
        if real:
            self.real_features.append(features)
            self._real_version += 1
        else:
            self.synthetic_features.append(features)

    # ----------------------------------------------------------------------------------------- compute

    def _real_side(self, real: Tensor) -> RealStatistics:
        """Real statistics, cached while the (gathered) real set is unchanged."""
        center = self.center
        extractor_center = getattr(self.feature_extractor, "center", None)
        if center is None and isinstance(extractor_center, Tensor):
            center = extractor_center
        center_tensor = _check_center(center, real.shape[1], real.device)
        center_key = None if center_tensor is None else tuple(center_tensor.tolist())
        key = (self._real_version, real.shape, real.device, real.dtype, center_key)
        if self._real_cache is None or self._real_cache[0] != key:
            stats = _real_statistics(real, self.k, center_tensor, self.chunk_size, self.algorithm)
            self._real_cache = (key, stats)
        return self._real_cache[1]

    def _compute_all(self) -> dict[str, Tensor]:
        """Every output, scalars to per-sample flags; memoised until the next update."""
        real = dim_zero_cat(self.real_features) if len(self.real_features) else None
        synthetic = dim_zero_cat(self.synthetic_features) if len(self.synthetic_features) else None
        if real is None or synthetic is None:
            missing = "real" if real is None else "synthetic"
            raise ValueError(
                f"Expected at least one `update(x, real={missing == 'real'})` with {missing} samples before "
                f"`compute()`, but got none."
            )
        real = _check_real(real, self.k)
        synthetic = _check_synthetic(synthetic, real.shape[1], real.device)
        key = (self._update_count, self._real_version, real.shape, synthetic.shape, real.device)
        if self._result_cache is not None and self._result_cache[0] == key:
            return self._result_cache[1]
        result = _alpha_precision_beta_recall_authenticity_compute(
            self._real_side(real),
            synthetic,
            self.protocol,
            self.num_thresholds,
            self.chunk_size,
            sample_level=True,
            dtype=_result_dtype(real, synthetic),
        )
        self._result_cache = (key, result)
        return result

    def compute(self) -> dict[str, Tensor]:
        """The three scalars and the two curves, and the bounds with ``confidence_level`` (class docstring)."""
        result = self._compute_all()
        output = {key: result[key] for key in _COMPUTE_KEYS}
        if self.confidence_level is not None:
            output.update(
                bootstrap_confidence_intervals(
                    result,
                    confidence_level=self.confidence_level,
                    num_resamples=self.num_resamples,
                    seed=self.seed,
                    protocol=self.protocol,
                    num_thresholds=self.num_thresholds,
                )
            )
        return output

    def sample_scores(self) -> dict[str, Tensor]:
        """Per-sample output for auditing (synced across processes like ``compute``)."""
        with self.sync_context(
            dist_sync_fn=self.dist_sync_fn, should_sync=self._to_sync, should_unsync=self._should_unsync
        ):
            result = self._compute_all()
        return {key: result[key].clone() for key in SAMPLE_KEYS}

    # ------------------------------------------------------------------------------------------- reset

    def reset(self) -> None:
        """Drop the synthetic samples (and the real ones unless ``reset_real_features=False``)."""
        real_features = list(self.real_features)  # torchmetrics clears list states in place
        super().reset()
        self._result_cache = None
        if self.reset_real_features:
            self._real_cache = None
            self._real_version += 1
            self._num_features = None
        else:
            self.real_features = real_features

    def plot(self, val: dict[str, Tensor] | None = None, ax: Any = None) -> tuple[Any, Any]:
        """Plot both curves and the diagonal; ``val`` defaults to ``compute()``. Returns ``(fig, ax)``.

        Example:
            >>> import torch
            >>> from faithful import AlphaPrecisionBetaRecallAuthenticity
            >>> metric = AlphaPrecisionBetaRecallAuthenticity()
            >>> metric.update(torch.randn(100, 3), real=True)
            >>> metric.update(torch.randn(80, 3), real=False)
            >>> fig, ax = metric.plot()
        """
        from faithful.plotting import plot_curves

        return plot_curves(val if val is not None else self.compute(), ax=ax)

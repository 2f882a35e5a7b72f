"""``AlphaPrecisionBetaRecallAuthenticity``: the torchmetrics shell around the functional core."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from faithful._distributed import gather_rows, search_shard
from faithful.functional._checks import (
    COMPUTE_KEYS,
    SAMPLE_KEYS,
    SCALAR_KEYS,
    _check_algorithm,
    _check_bootstrap_options,
    _check_options,
)
from faithful.functional.apra import (
    Scores,
    _alpha_precision_beta_recall_authenticity_compute,
    _alpha_precision_beta_recall_authenticity_update,
)
from faithful.functional.bootstrap import _half_sampling_intervals

__all__ = ["AlphaPrecisionBetaRecallAuthenticity"]


class AlphaPrecisionBetaRecallAuthenticity(Metric):
    r"""α-precision, β-recall and authenticity (Alaa et al., ICML 2022) of generated samples.

    Fidelity (:math:`IP_\alpha`), diversity (:math:`IR_\beta`) and generalization (authenticity :math:`A`)
    of synthetic samples against real ones, computed exactly by
    :func:`faithful.functional.alpha_precision_beta_recall_authenticity` (see there for the maths).

    As input to ``update`` and ``forward`` the metric accepts

    - ``x`` (:class:`~torch.Tensor`): ``(N, d)`` embeddings, or raw inputs of any shape that
      ``feature_extractor`` maps to ``(N, d)`` embeddings;
    - ``real`` (:class:`bool`): whether ``x`` are real samples (for authenticity: the data the generator
      was trained on) or synthetic ones.

    As output of ``compute`` the metric returns a dict with

    - ``alpha_precision``, ``beta_recall``, ``authenticity``: 0-d tensors (IPα, IRβ, A), each in [0, 1];
    - ``thresholds``, ``alpha_precision_curve``, ``beta_recall_curve``: ``(num_thresholds,)`` curves;
    - with ``confidence_level``: ``alpha_precision_lower``, ``alpha_precision_upper``, ``beta_recall_lower``,
      ``beta_recall_upper``, ``authenticity_lower``, ``authenticity_upper`` (0-d confidence bounds).

    ``forward(x, real)`` adds the batch like ``update``; it returns ``None`` for real samples (a dataset-level
    metric has no value for them alone) and, for synthetic samples, the ``compute()`` dict of that batch
    against the real samples added so far. Results are memoised and checked against the states' values,
    so loading a state dict, ``set_dtype`` or ``to()`` never return stale numbers.

    ``sample_scores()`` returns the per-sample output (``alpha_level``, ``authentic``,
    ``distance_to_real``, ``nearest_real_index`` per synthetic sample and ``covered``, ``beta_level``
    per real sample), in the order the samples were added (under DDP: rank 0's, then rank 1's, ...).

    The metric keeps every embedding in list states (memory ``(n + m) x d``), gathered across processes
    under DDP, so every process computes the same result. With ``reset_real_features=False`` the real
    embeddings *and* everything derived from them alone (nearest real neighbours, the α-radii) survive
    ``reset()``: in a training loop each evaluation then only pays for the real x synthetic work.

    Args:
        k: neighbours in the β-recall ball. ``None``: 5 (``protocol="paper"``), 1 (``"reference"``,
            ``"synthcity"``).
        center: fixed real center :math:`c_r`, shape ``(d,)``. ``None``: ``feature_extractor.center``
            when the extractor has one (e.g. :class:`faithful.OneClassEmbedding`), else the real mean.
        protocol: ``"paper"`` (the paper's definitions, exact integrals), ``"reference"`` (the numbers
            of the authors' published code) or ``"synthcity"`` (synthcity 0.2.12's naive keys, which tabular
            papers report; see ``docs/reproducing.md``).
        num_thresholds: grid points of the curves. ``None``: 101 (``"paper"``), 30 (``"reference"``,
            ``"synthcity"``).
        feature_extractor: optional module applied to ``x`` in ``update`` (under ``torch.no_grad`` and in
            eval mode, restored afterwards).
        reset_real_features: whether ``reset()`` also drops the real embeddings and their cache.
        chunk_size: real samples per distance block; ``None`` picks one. Results do not depend on it.
        confidence_level: also return confidence intervals at this level (e.g. ``0.95``) from ``compute()``,
            for the expected scores with both sets random (half-sampling both sets; see
            :func:`faithful.functional.bootstrap_confidence_intervals`). ``None``: no intervals.
        num_resamples: half-sample replicates (with ``confidence_level``).
        seed: seed of the replicates' own generator; every process and every ``compute()`` draws the same
            replicates, whatever the order of the updates.
        algorithm: the exact neighbour search, ``"auto"``, ``"kd_tree"`` (CPU only) or ``"brute"``; see
            :func:`faithful.functional.alpha_precision_beta_recall_authenticity`. The k-d tree over the real
            samples is cached with the other real-side quantities (built once while the real set is unchanged).
        kwargs: forwarded to :class:`torchmetrics.Metric` (``dist_sync_on_step``, ``compute_on_cpu``...).
            ``compute_with_cache`` is accepted but always off: the metric memoises by value itself.

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
        num_resamples: int = 200,
        seed: int = 0,
        algorithm: str = "auto",
        **kwargs: Any,
    ) -> None:
        # Uneven and empty shards under DDP: see faithful._distributed.
        kwargs.setdefault("dist_sync_fn", gather_rows)
        super().__init__(**kwargs)
        # The metric memoises its results itself, checked against the states' values (see `_scores`);
        # torchmetrics' own cache would survive `load_state_dict` and return stale numbers.
        self.compute_with_cache = False
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
        if not reset_real_features:
            # Always empty. MetricCollection's compute groups share the states of metrics whose states are
            # equal, and re-link them to one member after reset(): a metric keeping its real set must never
            # share with one dropping it. A state name of its own keeps them apart.
            self.add_state("real_features_kept", default=[], dist_reduce_fx="cat")
        self._num_features: int | None = None
        self._scores: Scores | None = None  # the last result and the real statistics it came from
        self._output: tuple[Scores, tuple[Any, ...], dict[str, Tensor]] | None = None  # compute() with intervals
        self._embedded: tuple[Tensor, Tensor, bool] | None = None  # forward's features, handed to update

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

    def _features(self, x: Tensor, real: bool) -> tuple[Tensor, bool]:
        """Checked, detached features of one batch and the checked flag; the state is not touched."""
        if self._embedded is not None and self._embedded[0] is x:
            return self._embedded[1], self._embedded[2]
        if not isinstance(x, Tensor):
            raise TypeError(f"Expected argument `x` to be a torch.Tensor, but got {type(x).__name__}.")
        features = self._embed(x)
        name = "x" if self.feature_extractor is None else "feature_extractor(x)"
        return _alpha_precision_beta_recall_authenticity_update(features, real, self._num_features, name)

    def update(self, x: Tensor, real: bool) -> None:
        """Add a batch of real (``real=True``) or synthetic (``real=False``) samples."""
        features, is_real = self._features(x, real)
        self._num_features = features.shape[1]
        (self.real_features if is_real else self.synthetic_features).append(features)

    def forward(self, x: Tensor, real: bool) -> dict[str, Tensor] | None:
        """Add a batch like ``update`` and return the value of this batch alone.

        The metric is dataset-level: a batch of real samples has no value of its own, so ``real=True``
        returns ``None``. A batch of synthetic samples is scored against the real samples added so far
        (the dict ``compute()`` returns, for these synthetic samples only). Like torchmetrics' ``forward``
        the batch value is local to the process unless ``dist_sync_on_step=True``, which gathers the real
        samples and the batch from every process first. The accumulated state changes exactly as with
        ``update``; on an error it does not change at all.

        Raises:
            ValueError: for ``real=False`` before any real sample was added (call ``update(x, real=True)``
                first), and on bad samples as ``update``.
        """
        features, is_real = self._features(x, real)
        value = None if is_real else self._batch_value(features)
        self._embedded = (x, features, is_real)
        try:
            self.update(x, real=is_real)
        finally:
            self._embedded = None
        return value

    def _batch_value(self, synthetic: Tensor) -> dict[str, Tensor]:
        real = _rows(self.real_features)
        if self.dist_sync_on_step and self.distributed_available_fn():
            placeholder = torch.empty(0, device=synthetic.device)
            real = _rows(gather_rows(placeholder if real is None else real, self.process_group))
            synthetic = torch.cat(gather_rows(synthetic, self.process_group))
        if real is None:
            raise ValueError(
                "Expected at least one `update(x, real=True)` before `forward(x, real=False)` (a synthetic batch "
                "is scored against the real samples added so far), but got none."
            )
        scores = self._compute_scores(real, synthetic, sample_level=False)
        return self._with_intervals(scores)

    # ----------------------------------------------------------------------------------------- compute

    def _resolved_center(self) -> Tensor | None:
        extractor_center = getattr(self.feature_extractor, "center", None)
        if self.center is None and isinstance(extractor_center, Tensor):
            return extractor_center
        return self.center

    def _compute_scores(self, real: Tensor, synthetic: Tensor, sample_level: bool, shared: bool = False) -> Scores:
        """Scores of these sets; ``shared``: every process holds the same (synced) sets and takes a share of the
        neighbour search (O(n + m) per process travels, the work divides by the number of processes)."""
        self._scores = _alpha_precision_beta_recall_authenticity_compute(
            real,
            synthetic,
            k=self.k,
            center=self._resolved_center(),
            protocol=self.protocol,
            num_thresholds=self.num_thresholds,
            chunk_size=self.chunk_size,
            sample_level=sample_level,
            previous=self._scores,
            algorithm=self.algorithm,
            shard=search_shard(self.process_group) if shared else None,
        )
        return self._scores

    def _all_scores(self) -> dict[str, Tensor]:
        """Every output, scalars to per-sample flags, of the (synced) states; memoised by value."""
        real, synthetic = _rows(self.real_features), _rows(self.synthetic_features)
        if real is None or synthetic is None:
            missing = "real" if real is None else "synthetic"
            raise ValueError(
                f"Expected at least one `update(x, real={missing == 'real'})` with {missing} samples before "
                f"`compute()`, but got none."
            )
        # After torchmetrics' sync every process holds the gathered states: share the search.
        scores = self._compute_scores(
            real, synthetic, sample_level=True, shared=bool(getattr(self, "_is_synced", False))
        )
        assert scores.result is not None
        return scores.result

    def _with_intervals(self, scores: Scores) -> dict[str, Tensor]:
        """``compute()``'s keys of ``scores``, with the bootstrap bounds when ``confidence_level`` is set."""
        assert scores.result is not None
        options = (self.confidence_level, self.num_resamples, self.seed)
        if self._output is not None and self._output[0] is scores and self._output[1] == options:
            return dict(self._output[2])
        output = {key: scores.result[key] for key in COMPUTE_KEYS}
        if self.confidence_level is not None:
            statistics = scores.real_statistics
            assert scores.synthetic is not None
            output.update(
                _half_sampling_intervals(
                    statistics.real,
                    scores.synthetic,
                    scores.result,
                    k=self.k,
                    center=statistics.given_center,
                    protocol=self.protocol,
                    num_thresholds=self.num_thresholds,
                    confidence_level=self.confidence_level,
                    num_resamples=self.num_resamples,
                    seed=self.seed,
                )
            )
        self._output = (scores, options, output)
        return dict(output)

    def compute(self) -> dict[str, Tensor]:
        """The three scalars and the two curves, and the bounds with ``confidence_level`` (class docstring)."""
        self._all_scores()
        assert self._scores is not None
        return self._with_intervals(self._scores)

    def sample_scores(self) -> dict[str, Tensor]:
        """Per-sample output for auditing (synced across processes like ``compute``)."""
        with self.sync_context(dist_sync_fn=self.dist_sync_fn, should_sync=self.sync_on_compute):
            result = self._all_scores()
        return {key: result[key].clone() for key in SAMPLE_KEYS}

    # ------------------------------------------------------------------------------------------- reset

    def reset(self) -> None:
        """Drop the synthetic samples (and the real ones unless ``reset_real_features=False``)."""
        real_features = self.real_features
        # Fresh lists: torchmetrics clears list states in place, which would also empty a list that a
        # compute group member or the caller still holds.
        self.real_features, self.synthetic_features = [], []
        super().reset()
        self._output = None
        if self.reset_real_features:
            self._scores = None
            self._num_features = None
        else:
            self.real_features = list(real_features) if isinstance(real_features, list) else [real_features]
            if self._scores is not None:  # keep the real statistics only
                self._scores = self._scores._replace(result=None, synthetic=None)

    def plot(
        self, val: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]] | None = None, ax: Any = None
    ) -> tuple[Any, Any]:
        """Plot one result's curves, or a sequence of results' scalars; ``val`` defaults to ``compute()``.

        One result (a dict from ``compute()``, ``forward`` or the functional API) draws both curves and the
        diagonal. A sequence of results (e.g. one per epoch) draws IPα, IRβ and A against their position in
        the sequence, as torchmetrics' ``plot`` does for a sequence of values. Returns ``(fig, ax)``.

        Example:
            >>> import torch
            >>> from faithful import AlphaPrecisionBetaRecallAuthenticity
            >>> metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False)
            >>> metric.update(torch.randn(100, 3), real=True)
            >>> metric.update(torch.randn(80, 3), real=False)
            >>> fig, ax = metric.plot()
            >>> history = []
            >>> for shift in (1.0, 0.5, 0.0):
            ...     metric.reset()
            ...     metric.update(torch.randn(80, 3) + shift, real=False)
            ...     history.append(metric.compute())
            >>> fig, ax = metric.plot(history)
        """
        from faithful.plotting import plot_curves

        if val is None:
            val = self.compute()
        if isinstance(val, Mapping):
            return plot_curves(val, ax=ax)
        if isinstance(val, Sequence) and len(val) and all(isinstance(v, Mapping) for v in val):
            missing = [key for key in SCALAR_KEYS if any(key not in v for v in val)]
            if missing:
                raise ValueError(f"Expected every result in `val` to hold {SCALAR_KEYS}, but {missing} are missing.")
            return self._plot([{key: v[key] for key in SCALAR_KEYS} for v in val], ax=ax)
        raise TypeError(
            "Expected argument `val` to be None, a result dict of `compute()` or a non-empty sequence of them, "
            f"but got {type(val).__name__}."
        )


def _rows(state: list[Tensor] | Tensor) -> Tensor | None:
    """The samples of a list state (or of a synced one, a tensor) as one tensor; ``None`` when there are none."""
    if isinstance(state, Tensor):
        return state if state.ndim == 2 and state.shape[0] > 0 else None
    state = [t for t in state if t.numel()]
    if not state:
        return None
    return state[0] if len(state) == 1 else torch.cat(state)

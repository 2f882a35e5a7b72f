"""The torchmetrics shell: same numbers as the functional core, accumulation, caching, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from faithful import AlphaPrecisionBetaRecallAuthenticity
from faithful.functional import SAMPLE_KEYS, alpha_precision_beta_recall_authenticity


def _data(seed=0, n=300, m=200, d=6):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen), torch.randn(m, d, generator=gen) * 1.1


def _assert_same(a, b):
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_metric_equals_functional_whatever_the_batching():
    real, synthetic = _data()
    expected = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
    for real_batches, synthetic_batches in [(1, 1), (3, 7), (300, 200)]:
        metric = AlphaPrecisionBetaRecallAuthenticity()
        for batch in real.tensor_split(real_batches):
            metric.update(batch, real=True)
        for batch in synthetic.tensor_split(synthetic_batches):
            metric.update(batch, real=False)
        result = metric.compute()
        assert set(result) == {
            "alpha_precision",
            "beta_recall",
            "authenticity",
            "thresholds",
            "alpha_precision_curve",
            "beta_recall_curve",
        }
        _assert_same(result, {key: expected[key] for key in result})
        _assert_same(metric.sample_scores(), {key: expected[key] for key in SAMPLE_KEYS})


def test_interleaved_updates_and_options_are_forwarded():
    real, synthetic = _data(1)
    metric = AlphaPrecisionBetaRecallAuthenticity(k=3, num_thresholds=11, chunk_size=17)
    for r, s in zip(real.tensor_split(4), synthetic.tensor_split(4), strict=True):
        metric.update(s, real=False)
        metric.update(r, real=True)
    expected = alpha_precision_beta_recall_authenticity(real, synthetic, k=3, num_thresholds=11)
    _assert_same(metric.compute(), {key: expected[key] for key in metric.compute()})


def test_reset_keeps_real_features_and_their_cache():
    real, synthetic = _data(2)
    metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False)
    metric.update(real, real=True)
    metric.update(synthetic, real=False)
    metric.compute()
    cached = metric._scores.real_statistics
    assert cached is not None
    metric.reset()
    assert metric.synthetic_features == []
    other = synthetic[:100] + 0.5
    metric.update(other, real=False)
    result = metric.compute()
    assert metric._scores.real_statistics is cached  # real x real work was not repeated
    expected = alpha_precision_beta_recall_authenticity(real, other)
    _assert_same(result, {key: expected[key] for key in result})
    # A new real sample invalidates the cache.
    metric.update(real[:5] + 1.0, real=True)
    metric.compute()
    assert metric._scores.real_statistics is not cached


def test_reset_drops_everything_by_default():
    real, synthetic = _data(3)
    metric = AlphaPrecisionBetaRecallAuthenticity()
    metric.update(real, real=True)
    metric.update(synthetic, real=False)
    metric.compute()
    metric.reset()
    assert metric.real_features == [] and metric._scores is None
    with (
        pytest.warns(UserWarning, match="called before the ``update`` method"),
        pytest.raises(ValueError, match=r"at least one `update\(x, real=True\)` with real samples"),
    ):
        metric.compute()


class _Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(2.0))
        self.dropout = nn.Dropout(0.5)
        self.register_buffer("center", torch.full((6,), 0.25))

    def forward(self, x):
        return self.dropout(x.flatten(1) * self.weight)


def test_feature_extractor_runs_in_eval_mode_and_provides_the_center():
    real, synthetic = _data(4)
    extractor = _Scale().train()
    metric = AlphaPrecisionBetaRecallAuthenticity(feature_extractor=extractor)
    metric.update(real.reshape(-1, 2, 3), real=True)  # raw inputs of another shape
    metric.update(synthetic.reshape(-1, 2, 3), real=False)
    assert extractor.training  # restored
    expected = alpha_precision_beta_recall_authenticity(2 * real, 2 * synthetic, center=torch.full((6,), 0.25))
    result = metric.compute()
    _assert_same(result, {key: expected[key] for key in result})
    assert not metric.real_features[0].requires_grad


def test_plot_returns_figure_and_axes():
    real, synthetic = _data(5)
    metric = AlphaPrecisionBetaRecallAuthenticity()
    metric.update(real, real=True)
    metric.update(synthetic, real=False)
    _fig, ax = metric.plot()
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 3 and labels[0].startswith("ideal")
    assert "IPα" in labels[1] and "IRβ" in labels[2]


def test_update_errors():
    metric = AlphaPrecisionBetaRecallAuthenticity()
    with pytest.raises(TypeError, match=r"`real` to be a bool"):
        metric.update(torch.randn(4, 3), real=1)
    with pytest.raises(ValueError, match=r"2-D tensor .* shape \(4,\)"):
        metric.update(torch.randn(4), real=True)
    with pytest.raises(TypeError, match=r"floating point tensor, but got dtype torch.int64"):
        metric.update(torch.ones(4, 3, dtype=torch.long), real=True)
    bad = torch.randn(4, 3)
    bad[1, 1] = float("nan")
    with pytest.raises(ValueError, match=r"real=False.* 1 of its 4 samples contain NaN or inf"):
        metric.update(bad, real=False)
    metric.update(torch.randn(4, 3), real=True)
    with pytest.raises(ValueError, match=r"to have 3 features like the earlier updates, but got shape \(4, 5\)"):
        metric.update(torch.randn(4, 5), real=False)


def test_compute_errors_name_the_problem():
    metric = AlphaPrecisionBetaRecallAuthenticity()
    metric.update(torch.randn(4, 3), real=True)
    metric.update(torch.randn(4, 3), real=False)
    with pytest.raises(ValueError, match=r"at least k \+ 1 = 6 samples"):
        metric.compute()


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"`k` to be a positive integer"):
        AlphaPrecisionBetaRecallAuthenticity(k=0)
    with pytest.raises(ValueError, match=r"`protocol` to be one of"):
        AlphaPrecisionBetaRecallAuthenticity(protocol="authors")
    with pytest.raises(TypeError, match=r"`feature_extractor` to be None or a torch.nn.Module"):
        AlphaPrecisionBetaRecallAuthenticity(feature_extractor=lambda x: x)
    with pytest.raises(ValueError, match=r"`reset_real_features` to be a bool"):
        AlphaPrecisionBetaRecallAuthenticity(reset_real_features="no")


def test_synthcity_protocol_through_the_metric(synthcity_vectors):
    import numpy as np

    rng = np.random.default_rng(1)
    real, synthetic = rng.standard_normal((400, 5)), rng.standard_normal((400, 5)) * 1.2 + 0.3
    low, span = real.min(0), real.max(0) - real.min(0)
    metric = AlphaPrecisionBetaRecallAuthenticity(protocol="synthcity")
    assert (metric.k, metric.num_thresholds) == (1, 30)
    metric.update(torch.tensor((real - low) / span), real=True)
    metric.update(torch.tensor((synthetic - low) / span), real=False)
    result = metric.compute()
    expected = synthcity_vectors["cases"]["gauss_shift"]
    for key in ("alpha_precision", "beta_recall"):
        assert abs(result[key].item() - expected[key]) < 1e-9
    with pytest.raises(ValueError, match=r"`k` to be None or 1 with protocol='synthcity'"):
        AlphaPrecisionBetaRecallAuthenticity(protocol="synthcity", k=5)


def test_reference_protocol_through_the_metric(reference_vectors):
    import numpy as np

    rng = np.random.default_rng(0)
    real, same = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8))
    metric = AlphaPrecisionBetaRecallAuthenticity(protocol="reference", center=torch.tensor(real.mean(0)))
    metric.update(torch.tensor(real), real=True)
    metric.update(torch.tensor(same), real=False)
    result = metric.compute()
    expected = reference_vectors["cases"]["same"]
    for key in ("alpha_precision", "beta_recall", "authenticity"):
        assert abs(result[key].item() - expected[key]) < 1e-6

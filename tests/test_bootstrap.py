"""Bootstrap intervals: exact batched integrals, coverage on a simulation with known truth, width, seeds, errors."""

from __future__ import annotations

import math

import pytest
import torch

from faithful import AlphaPrecisionBetaRecallAuthenticity
from faithful.functional import (
    INTERVAL_KEYS,
    SAMPLE_KEYS,
    alpha_precision_beta_recall_authenticity,
    bootstrap_confidence_intervals,
)
from faithful.functional.bootstrap import (
    _batched_deviation_integral,
    _batched_grid_deviation,
    _draw_cumulative_counts,
)
from faithful.functional.curves import deviation_integral

SCALARS = ("alpha_precision", "beta_recall", "authenticity")


@pytest.fixture
def one_thread():
    # The simulations run many small tensor ops: on a busy 2-core machine OpenMP threads only add waiting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _levels(num: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    levels = torch.rand(num, generator=gen, dtype=torch.float64) ** 0.7
    levels[torch.rand(num, generator=gen) < 0.15] = math.inf  # outside every ball / not covered
    if num >= 11:
        levels[:5] = levels[5:10]  # ties
        levels[10] = 0.0
    return levels


@pytest.mark.parametrize("num", [1, 2, 37, 500])
def test_batched_integral_equals_the_exact_integral_of_each_resample(num):
    levels = _levels(num, seed=num)
    sorted_levels = torch.sort(levels).values
    identity = torch.arange(num + 1, dtype=torch.float64).unsqueeze(0)
    assert _batched_deviation_integral(sorted_levels, identity.clone()).item() == pytest.approx(
        deviation_integral(levels, num).item(), abs=1e-12
    )
    cumulative = _draw_cumulative_counts(num, 6, torch.Generator().manual_seed(1), torch.device("cpu"))
    multiplicities = cumulative.diff(dim=1).long()
    assert (multiplicities.sum(dim=1) == num).all()
    batched = _batched_deviation_integral(sorted_levels, cumulative.clone())
    for row in range(6):
        resample = torch.repeat_interleave(sorted_levels, multiplicities[row])
        assert batched[row].item() == pytest.approx(deviation_integral(resample, num).item(), abs=1e-12)


@pytest.mark.parametrize("protocol", ["reference", "synthcity"])
def test_batched_grid_sum_equals_the_published_codes_sum(protocol):
    levels = _levels(300, seed=3)
    sorted_levels = torch.sort(levels).values
    grid = torch.linspace(0, 1, 30, dtype=torch.float64)
    cumulative = _draw_cumulative_counts(300, 4, torch.Generator().manual_seed(2), torch.device("cpu"))
    multiplicities = cumulative.diff(dim=1).long()
    batched = _batched_grid_deviation(sorted_levels, cumulative, grid, protocol)
    for row in range(4):
        resample = torch.repeat_interleave(sorted_levels, multiplicities[row])
        curve = (resample.unsqueeze(0) <= grid.unsqueeze(1)).sum(dim=1).double() / 300
        # The score is 1 - 2·deviation: reference 1 - 2·Σ/29 (Riemann sum), synthcity 1 - Σ/Σgrid (Σgrid = 15).
        deviation = (curve - grid).abs().sum()
        score = 1 - 2 * deviation / 29 if protocol == "reference" else 1 - deviation / 15
        assert 1 - 2 * batched[row].item() == pytest.approx(score.item(), abs=1e-12)


def _coverage(confidence_level: float, repetitions: int, n: int, m: int) -> dict[str, float]:
    """Share of intervals holding the truth, one set fixed and the other drawn anew each repetition.

    IPα and A are conditional on a fixed real set (synthetic drawn anew), IRβ on a fixed synthetic set
    (real drawn anew): what the conditional bootstrap claims to cover. The truth is the same functional
    of the per-sample output pooled over all repetitions (repetitions x m or x n samples): the large-sample
    value given the fixed set. The synthetic distribution is narrower than the real one so that neither
    curve hugs the diagonal, where |P_α - α| has a kink and the estimate is biased.
    """
    gen = torch.Generator().manual_seed(0)
    d, scale = 3, 0.7
    real_fixed = torch.randn(n, d, generator=gen, dtype=torch.float64)
    synthetic_fixed = scale * torch.randn(m, d, generator=gen, dtype=torch.float64)
    runs: dict[str, list] = {"synthetic": [], "real": []}
    for repetition in range(repetitions):
        synthetic = scale * torch.randn(m, d, generator=gen, dtype=torch.float64)
        real = torch.randn(n, d, generator=gen, dtype=torch.float64)
        for name, pair in (("synthetic", (real_fixed, synthetic)), ("real", (real, synthetic_fixed))):
            result = alpha_precision_beta_recall_authenticity(
                *pair, confidence_level=confidence_level, num_resamples=400, seed=repetition, sample_level=True
            )
            runs[name].append(result)
    alpha_level = torch.cat([r["alpha_level"] for r in runs["synthetic"]])
    beta_level = torch.cat([r["beta_level"] for r in runs["real"]])
    truth = {
        "alpha_precision": 1 - 2 * deviation_integral(alpha_level, alpha_level.numel()).item(),
        "authenticity": torch.cat([r["authentic"] for r in runs["synthetic"]]).double().mean().item(),
        "beta_recall": 1 - 2 * deviation_integral(beta_level, beta_level.numel()).item(),
    }
    coverage = {}
    for key, name in (("alpha_precision", "synthetic"), ("authenticity", "synthetic"), ("beta_recall", "real")):
        hits = [r[f"{key}_lower"].item() <= truth[key] <= r[f"{key}_upper"].item() for r in runs[name]]
        coverage[key] = sum(hits) / repetitions
    return coverage


def test_intervals_cover_the_truth_at_about_the_stated_rate(one_thread):
    # Measured with these settings (about 7 s): IPα 0.965, A 0.935, IRβ 0.92. With 1000 repetitions see
    # docs/auditing.md.
    coverage = _coverage(0.95, repetitions=200, n=300, m=300)
    for key, value in coverage.items():
        assert 0.85 <= value <= 0.99, (key, coverage)


def test_intervals_cover_at_a_lower_level_too(one_thread):
    # 80% intervals: a different quantile pair, and a faster run (fewer, smaller repetitions).
    coverage = _coverage(0.8, repetitions=80, n=200, m=200)
    for key, value in coverage.items():
        assert 0.62 <= value <= 0.94, (key, coverage)


def test_width_shrinks_as_the_sets_grow(one_thread):
    gen = torch.Generator().manual_seed(1)
    widths = []
    for size in (200, 2000):
        real, synthetic = torch.randn(size, 4, generator=gen), 0.8 * torch.randn(size, 4, generator=gen)
        result = alpha_precision_beta_recall_authenticity(real, synthetic, confidence_level=0.95, num_resamples=300)
        widths.append({key: (result[f"{key}_upper"] - result[f"{key}_lower"]).item() for key in SCALARS})
    for key in SCALARS:
        # Sampling error ~ 1/sqrt(size): the ratio should be about sqrt(10) = 3.2.
        assert 0 < widths[1][key] < 0.55 * widths[0][key], (key, widths)


def _sample_result(seed: int = 0, n: int = 150, m: int = 120) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real, synthetic = torch.randn(n, 3, generator=gen), 0.8 * torch.randn(m, 3, generator=gen) + 0.2
    return alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)


def test_same_seed_same_interval_and_another_seed_another():
    result = _sample_result()
    first = bootstrap_confidence_intervals(result, seed=5, num_resamples=200)
    again = bootstrap_confidence_intervals(result, seed=5, num_resamples=200)
    other = bootstrap_confidence_intervals(result, seed=6, num_resamples=200)
    assert set(first) == set(INTERVAL_KEYS)
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_global_rng_is_left_alone():
    result = _sample_result()
    state = torch.get_rng_state()
    bootstrap_confidence_intervals(result, num_resamples=50)
    assert torch.equal(state, torch.get_rng_state())


def test_intervals_bracket_the_estimate_and_lie_in_range():
    result = _sample_result(n=400, m=400)
    intervals = bootstrap_confidence_intervals(result)
    for key in SCALARS:
        lower, upper = intervals[f"{key}_lower"], intervals[f"{key}_upper"]
        assert lower.ndim == 0 and lower.dtype == result[key].dtype
        assert 0.0 <= lower.item() <= result[key].item() <= upper.item() <= 1.0, key


def test_real_side_resamples_do_not_depend_on_the_synthetic_side():
    # IRβ resamples the real samples only: its interval must not depend on the synthetic draws' stream.
    result = _sample_result()
    trimmed = dict(result, alpha_level=result["alpha_level"][:60], authentic=result["authentic"][:60])
    full, half = bootstrap_confidence_intervals(result), bootstrap_confidence_intervals(trimmed)
    for key in ("beta_recall_lower", "beta_recall_upper"):
        assert torch.equal(full[key], half[key])


@pytest.mark.parametrize("protocol", ["reference", "synthcity"])
def test_published_protocols_intervals_follow_the_grid_sum(protocol):
    gen = torch.Generator().manual_seed(3)
    real, synthetic = torch.randn(300, 3, generator=gen), 0.8 * torch.randn(300, 3, generator=gen)
    result = alpha_precision_beta_recall_authenticity(
        real, synthetic, protocol=protocol, confidence_level=0.95, num_resamples=500
    )
    for key in SCALARS:
        assert result[f"{key}_lower"] <= result[key] <= result[f"{key}_upper"], key


# ------------------------------------------------------------------------------------ functional API and metric


def test_no_confidence_level_leaves_the_result_unchanged():
    gen = torch.Generator().manual_seed(4)
    real, synthetic = torch.randn(100, 3, generator=gen), torch.randn(80, 3, generator=gen)
    plain = alpha_precision_beta_recall_authenticity(real, synthetic)
    assert not set(INTERVAL_KEYS) & set(plain)
    with_ci = alpha_precision_beta_recall_authenticity(real, synthetic, confidence_level=0.9, num_resamples=100)
    assert set(with_ci) == set(plain) | set(INTERVAL_KEYS)  # no per-sample keys unless asked
    for key, value in plain.items():
        assert torch.equal(value, with_ci[key]), key
    both = alpha_precision_beta_recall_authenticity(
        real, synthetic, confidence_level=0.9, num_resamples=100, sample_level=True
    )
    assert set(SAMPLE_KEYS) <= set(both)
    expected = bootstrap_confidence_intervals(both, confidence_level=0.9, num_resamples=100)
    for key in INTERVAL_KEYS:
        assert torch.equal(both[key], expected[key]) and torch.equal(with_ci[key], expected[key]), key


def test_metric_compute_returns_the_same_bounds_as_the_functional_api():
    gen = torch.Generator().manual_seed(5)
    real, synthetic = torch.randn(120, 3, generator=gen), torch.randn(90, 3, generator=gen)
    metric = AlphaPrecisionBetaRecallAuthenticity(confidence_level=0.9, num_resamples=150, seed=3)
    metric.update(real, real=True)
    metric.update(synthetic[:40], real=False)
    metric.update(synthetic[40:], real=False)
    result = metric.compute()
    expected = alpha_precision_beta_recall_authenticity(
        real, synthetic, confidence_level=0.9, num_resamples=150, seed=3
    )
    for key in (*SCALARS, *INTERVAL_KEYS):
        assert torch.equal(result[key], expected[key]), key
    plain = AlphaPrecisionBetaRecallAuthenticity()
    plain.update(real, real=True)
    plain.update(synthetic, real=False)
    assert not set(INTERVAL_KEYS) & set(plain.compute())


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, True, "0.95", math.nan, None])
def test_error_bad_confidence_level(level):
    result = _sample_result()
    with pytest.raises(ValueError, match=r"`confidence_level` to be a number strictly between 0 and 1"):
        bootstrap_confidence_intervals(result, confidence_level=level)


@pytest.mark.parametrize("level", [0.0, 1.0, 95])
def test_error_bad_confidence_level_in_the_functional_api_and_the_metric(level):
    with pytest.raises(ValueError, match=rf"`confidence_level` .* but got {level!r}"):
        alpha_precision_beta_recall_authenticity(torch.randn(20, 3), torch.randn(10, 3), confidence_level=level)
    with pytest.raises(ValueError, match=r"`confidence_level`"):
        AlphaPrecisionBetaRecallAuthenticity(confidence_level=level)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"num_resamples": 0}, r"`num_resamples` to be a positive integer, but got 0"),
        ({"num_resamples": 10.0}, r"`num_resamples` to be a positive integer, but got 10.0"),
        ({"seed": -1}, r"`seed` to be a non-negative integer below 2\*\*63, but got -1"),
        ({"protocol": "papers"}, r"`protocol` to be one of \('paper', 'reference', 'synthcity'\), but got 'papers'"),
        ({"num_thresholds": 1}, r"`num_thresholds` to be an integer >= 2, but got 1"),
    ],
)
def test_error_bad_options(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        bootstrap_confidence_intervals(_sample_result(), **kwargs)


def test_error_missing_keys_are_named():
    result = alpha_precision_beta_recall_authenticity(torch.randn(20, 3), torch.randn(10, 3))
    with pytest.raises(ValueError, match=r"lacks \['alpha_level', 'authentic', 'beta_level'\]"):
        bootstrap_confidence_intervals(result)
    partial = {key: value for key, value in _sample_result().items() if key != "beta_level"}
    with pytest.raises(ValueError, match=r"lacks \['beta_level'\]"):
        bootstrap_confidence_intervals(partial)


def test_error_malformed_per_sample_values():
    result = _sample_result()
    with pytest.raises(ValueError, match=r"`sample_result\['authentic'\]` to be a bool tensor"):
        bootstrap_confidence_intervals(dict(result, authentic=result["authentic"].float()))
    with pytest.raises(ValueError, match=r"one entry per synthetic sample .* shapes \(120,\) and \(7,\)"):
        bootstrap_confidence_intervals(dict(result, authentic=result["authentic"][:7]))
    with pytest.raises(ValueError, match=r"`sample_result\['beta_level'\]` to hold levels in \[0, 1\] or inf"):
        bootstrap_confidence_intervals(dict(result, beta_level=torch.full((5,), math.nan)))
    with pytest.raises(TypeError, match=r"`sample_result` to be the dict .* but got list"):
        bootstrap_confidence_intervals([1, 2])  # type: ignore[arg-type]

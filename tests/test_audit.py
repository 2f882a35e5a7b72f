"""audit(): keeps exactly the samples inside the α-support at α* that are authentic; errors name the problem."""

from __future__ import annotations

import math

import pytest
import torch

from faithful import AlphaPrecisionBetaRecallAuthenticity
from faithful.audit import AuditResult, audit
from faithful.functional import alpha_precision_beta_recall_authenticity

INF = math.inf


def _scores() -> dict[str, torch.Tensor]:
    return {
        "alpha_level": torch.tensor([0.1, 0.5, INF, 0.9, 1.0, 0.0, 0.5]),
        "authentic": torch.tensor([True, False, True, True, True, True, True]),
    }


@pytest.mark.parametrize(
    ("alpha", "require_authentic", "expected"),
    [
        (0.5, True, [0, 5, 6]),  # 0.5 <= 0.5 is inside; index 1 is inside but a copy
        (0.5, False, [0, 1, 5, 6]),
        (1.0, True, [0, 3, 4, 5, 6]),  # inf (beyond every real sample) is never kept
        (0.0, True, [5]),
        (0.95, False, [0, 1, 3, 5, 6]),
    ],
)
def test_keeps_exactly_the_expected_samples(alpha, require_authentic, expected):
    result = audit(_scores(), alpha=alpha, require_authentic=require_authentic)
    assert isinstance(result, AuditResult)
    assert result.indices.tolist() == expected
    assert result.keep.dtype == torch.bool and result.keep.shape == (7,)
    assert torch.nonzero(result.keep).flatten().tolist() == expected
    assert result.num_kept == len(expected)
    assert result.num_samples == 7
    assert result.num_inside == int((_scores()["alpha_level"] <= alpha).sum())
    assert result.num_authentic == 6
    assert f"kept {len(expected)} of 7" in result.summary


def test_float32_levels_are_compared_without_rounding_alpha():
    # float32(0.3) > 0.3: a level stored in float32 just above α* stays out, one below stays in.
    scores = {
        "alpha_level": torch.tensor([0.3, 0.29999998], dtype=torch.float32),
        "authentic": torch.ones(2, dtype=torch.bool),
    }
    assert audit(scores, alpha=0.3).indices.tolist() == [1]


def test_on_the_functional_output_drops_near_copies_and_far_samples():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(400, 4, generator=gen)
    copies = real[:40] + 1e-4 * torch.randn(40, 4, generator=gen)
    far = torch.randn(20, 4, generator=gen) + 50.0  # outside every α-support
    fresh = torch.randn(140, 4, generator=gen)
    synthetic = torch.cat([copies, far, fresh])
    scores = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
    result = audit(scores)
    assert not result.keep[:60].any()
    expected = (scores["alpha_level"] <= 1.0) & scores["authentic"]
    assert torch.equal(result.keep, expected)
    assert result.num_inside == 180  # copies and fresh samples; not the far ones
    assert audit(scores, alpha=0.5).num_kept < result.num_kept


def test_on_the_metrics_sample_scores():
    gen = torch.Generator().manual_seed(1)
    real, synthetic = torch.randn(200, 3, generator=gen), torch.randn(150, 3, generator=gen)
    metric = AlphaPrecisionBetaRecallAuthenticity()
    metric.update(real, real=True)
    metric.update(synthetic, real=False)
    from_metric = audit(metric.sample_scores(), alpha=0.8)
    from_function = audit(alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True), alpha=0.8)
    assert torch.equal(from_metric.keep, from_function.keep)


def test_without_authenticity_only_alpha_level_is_needed():
    result = audit({"alpha_level": torch.tensor([0.2, 0.7])}, alpha=0.5, require_authentic=False)
    assert result.indices.tolist() == [0]
    assert result.num_authentic is None
    assert "authentic" not in result.summary


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("alpha", [-0.1, 1.5, math.nan, True, "0.5", None])
def test_error_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"`alpha` to be a number in \[0, 1\], but got"):
        audit(_scores(), alpha=alpha)


def test_error_missing_keys_are_named():
    result = alpha_precision_beta_recall_authenticity(torch.randn(20, 3), torch.randn(10, 3))
    with pytest.raises(ValueError, match=r"lacks \['alpha_level', 'authentic'\] .* without `sample_level=True`"):
        audit(result)
    with pytest.raises(ValueError, match=r"lacks \['authentic'\]"):
        audit({"alpha_level": torch.zeros(3)})


def test_error_not_a_mapping():
    with pytest.raises(TypeError, match=r"`sample_scores` to be the dict .* but got Tensor"):
        audit(torch.zeros(3))  # type: ignore[arg-type]


def test_error_malformed_values():
    with pytest.raises(ValueError, match=r"`sample_scores\['authentic'\]` to be a bool tensor of shape \(3,\)"):
        audit({"alpha_level": torch.zeros(3), "authentic": torch.ones(3)})
    with pytest.raises(ValueError, match=r"but got torch.bool tensor of shape \(2,\)"):
        audit({"alpha_level": torch.zeros(3), "authentic": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"`sample_scores\['alpha_level'\]` to be a 1-D floating point tensor"):
        audit({"alpha_level": torch.zeros(3, 1), "authentic": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"contains NaN"):
        audit({"alpha_level": torch.tensor([math.nan]), "authentic": torch.ones(1, dtype=torch.bool)})


def test_error_require_authentic_not_a_bool():
    with pytest.raises(ValueError, match=r"`require_authentic` to be a bool, but got 1"):
        audit(_scores(), require_authentic=1)  # type: ignore[arg-type]

"""The functional core against a brute-force float64 reference, known cases, invariances and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from faithful.functional import SAMPLE_KEYS, alpha_precision_beta_recall_authenticity
from tests.reference_impl import brute_force

SCALARS = ("alpha_precision", "beta_recall", "authenticity")


def _compare(result: dict[str, torch.Tensor], expected: dict[str, np.ndarray]) -> None:
    for key in SCALARS:
        assert abs(result[key].item() - expected[key]) < 1e-4, key
    for key in ("thresholds", "alpha_precision_curve", "beta_recall_curve"):
        np.testing.assert_allclose(result[key].double().numpy(), expected[key], atol=1e-12, err_msg=key)
    for key in ("authentic", "covered", "nearest_real_index"):
        np.testing.assert_array_equal(result[key].numpy(), expected[key], err_msg=key)
    for key in ("alpha_level", "beta_level"):
        got, want = result[key].double().numpy(), expected[key]
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg=key)
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], atol=1e-9, err_msg=key)
    np.testing.assert_allclose(result["distance_to_real"].double().numpy(), expected["distance_to_real"], atol=1e-12)


def _run(real, synthetic, **kwargs):
    return alpha_precision_beta_recall_authenticity(
        torch.as_tensor(real), torch.as_tensor(synthetic), sample_level=True, **kwargs
    )


@pytest.mark.parametrize(
    ("n", "m", "d", "k", "seed"),
    [(120, 80, 3, 1, 0), (100, 150, 8, 5, 1), (90, 90, 16, 3, 2), (60, 40, 2, 10, 3)],
)
def test_matches_brute_force_on_random_data(n, m, d, k, seed):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d))
    synthetic = 0.8 * rng.standard_normal((m, d)) + 0.3
    _compare(_run(real, synthetic, k=k), brute_force(real, synthetic, k=k))


def test_matches_brute_force_with_duplicates_and_ties():
    # Points on a small integer lattice: duplicate rows in both sets, exact copies, many equal distances.
    rng = np.random.default_rng(7)
    real = rng.integers(0, 3, size=(80, 3)).astype(np.float64)
    synthetic = np.concatenate([real[:20], rng.integers(0, 4, size=(50, 3)).astype(np.float64), real[:5]])
    for k in (1, 2, 5):
        _compare(_run(real, synthetic, k=k), brute_force(real, synthetic, k=k))


def test_matches_brute_force_with_a_given_center():
    rng = np.random.default_rng(3)
    real, synthetic = rng.standard_normal((70, 4)), rng.standard_normal((60, 4))
    center = np.array([0.5, -0.2, 0.0, 1.0])
    result = _run(real, synthetic, center=torch.tensor(center))
    _compare(result, brute_force(real, synthetic, center=center))


@pytest.mark.parametrize(("offset", "dtype"), [(1e6, torch.float64), (100.0, torch.float32)])
def test_near_duplicates_far_from_the_origin_are_not_authentic(offset, dtype):
    # |mean| >> spread: the float32 |a|^2 - 2ab + |b|^2 expansion alone would lose the 1e-4 noise.
    gen = torch.Generator().manual_seed(0)
    real = (offset + torch.randn(300, 32, generator=gen, dtype=torch.float64)).to(dtype)
    copies = (real[:100].double() + 1e-4 * torch.randn(100, 32, generator=gen, dtype=torch.float64)).to(dtype)
    fresh = (offset + torch.randn(100, 32, generator=gen, dtype=torch.float64)).to(dtype)
    synthetic = torch.cat([copies, fresh])
    result = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
    assert not result["authentic"][:100].any()
    assert result["nearest_real_index"][:100].tolist() == list(range(100))
    _compare(result, brute_force(real.double().numpy(), synthetic.double().numpy()))


def test_reference_protocol_reproduces_the_authors_code(reference_vectors):
    rng = np.random.default_rng(0)
    real = rng.standard_normal((1000, 8))
    same = rng.standard_normal((1000, 8))
    noise = rng.standard_normal((1000, 8))
    shifted = rng.standard_normal((1000, 8)) + 3.0
    inputs = {"same": same, "copies": real + 1e-3 * noise, "shifted": shifted}
    assert set(reference_vectors["cases"]) == set(inputs)
    for name, expected in reference_vectors["cases"].items():
        result = alpha_precision_beta_recall_authenticity(
            torch.tensor(real), torch.tensor(inputs[name]), center=torch.tensor(real.mean(0)), protocol="reference"
        )
        for key in (*SCALARS, "thresholds", "alpha_precision_curve", "beta_recall_curve"):
            np.testing.assert_allclose(result[key].numpy(), expected[key], atol=1e-6, rtol=0, err_msg=f"{name}/{key}")


def _synthcity_inputs(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The vectors' recipes, min-max scaled with a scaler fitted on the real array (as synthcity's evaluate())."""
    if name == "gauss_shift":
        rng = np.random.default_rng(1)
        real = rng.standard_normal((400, 5))
        synthetic = rng.standard_normal((400, 5)) * 1.2 + 0.3
    else:
        rng = np.random.default_rng(2)
        scale = np.arange(1, 9)
        real = rng.standard_normal((300, 8)) * scale
        synthetic = np.concatenate([real[:100], rng.standard_normal((200, 8)) * scale + 0.5])
    low, span = real.min(0), real.max(0) - real.min(0)
    return (real - low) / span, (synthetic - low) / span


def test_synthcity_protocol_reproduces_synthcity(synthcity_vectors):
    assert set(synthcity_vectors["cases"]) == {"gauss_shift", "copies_and_noise"}
    for name, expected in synthcity_vectors["cases"].items():
        real, synthetic = _synthcity_inputs(name)
        result = alpha_precision_beta_recall_authenticity(
            torch.tensor(real), torch.tensor(synthetic), protocol="synthcity", sample_level=True
        )
        for key in ("alpha_precision", "beta_recall", "thresholds", "alpha_precision_curve", "beta_recall_curve"):
            np.testing.assert_allclose(result[key].numpy(), expected[key], atol=1e-9, rtol=0, err_msg=f"{name}/{key}")
        # Authenticity is the corrected definition, not synthcity's indexed-by-the-wrong-set value.
        brute = brute_force(real, synthetic, k=1)
        assert result["authenticity"].item() == pytest.approx(brute["authenticity"], abs=1e-12)
        np.testing.assert_array_equal(result["authentic"].numpy(), brute["authentic"])
    # The copies case tells the two apart: 100 of 300 synthetic samples are exact copies, never authentic.
    copies = alpha_precision_beta_recall_authenticity(
        *map(torch.tensor, _synthcity_inputs("copies_and_noise")), protocol="synthcity", sample_level=True
    )
    assert not copies["authentic"][:100].any()
    assert copies["authenticity"].item() != synthcity_vectors["cases"]["copies_and_noise"]["authenticity_synthcity"]


def test_synthcity_protocol_is_the_reference_curves_renormalised():
    # Same curves as "reference"; the score is 1 - Σ|curve - grid| / Σ grid = 1 - (1 - reference) · 29/30.
    rng = np.random.default_rng(5)
    real, synthetic = torch.tensor(rng.standard_normal((150, 4))), torch.tensor(rng.standard_normal((90, 4)) + 0.4)
    reference = alpha_precision_beta_recall_authenticity(real, synthetic, protocol="reference")
    synthcity = alpha_precision_beta_recall_authenticity(real, synthetic, protocol="synthcity")
    for key in ("authenticity", "thresholds", "alpha_precision_curve", "beta_recall_curve"):
        assert torch.equal(reference[key], synthcity[key]), key
    for key in ("alpha_precision", "beta_recall"):
        grid = synthcity["thresholds"].double()
        curve = synthcity[f"{key}_curve"].double()
        by_hand = 1.0 - (curve - grid).abs().sum() / grid.sum()
        assert synthcity[key].item() == pytest.approx(by_hand.item(), abs=1e-12)
        assert synthcity[key].item() == pytest.approx(1 - (1 - reference[key].item()) * 29 / 30, abs=1e-12)


def test_independent_draws_score_high_fidelity_and_diversity():
    gen = torch.Generator().manual_seed(1)
    real, synthetic = torch.randn(2000, 8, generator=gen), torch.randn(2000, 8, generator=gen)
    result = alpha_precision_beta_recall_authenticity(real, synthetic)
    # Measured (documented in the README): IPα = 0.991, IRβ = 0.817, A = 0.593 at n = m = 2000, d = 8, k = 5.
    assert result["alpha_precision"] > 0.9
    assert result["beta_recall"] > 0.75
    assert 0.45 < result["authenticity"] < 0.75


def test_exact_copies_are_never_authentic_even_with_duplicates_in_real():
    gen = torch.Generator().manual_seed(2)
    real = torch.randn(200, 5, generator=gen)
    real[100:110] = real[:10]  # duplicates: NND_1 = 0 for those rows
    result = alpha_precision_beta_recall_authenticity(real, real[:150].clone())
    assert result["authenticity"].item() == 0.0


def test_disjoint_distributions():
    gen = torch.Generator().manual_seed(3)
    real = torch.randn(300, 4, generator=gen)
    synthetic = torch.randn(300, 4, generator=gen) + 20.0
    result = alpha_precision_beta_recall_authenticity(real, synthetic)
    assert result["alpha_precision"].item() == 0.0
    assert result["beta_recall"].item() == 0.0
    assert result["authenticity"].item() == 1.0


def test_results_do_not_depend_on_chunk_size():
    gen = torch.Generator().manual_seed(4)
    real = torch.randint(0, 4, (150, 3), generator=gen).float()  # ties everywhere
    synthetic = torch.cat([real[:30], torch.randn(90, 3, generator=gen)])
    results = [
        alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True, chunk_size=c)
        for c in (None, 1, 7, 64, 149, 1000)
    ]
    for other in results[1:]:
        for key, value in results[0].items():
            assert torch.equal(value, other[key]), key


def test_float32_and_float64_inputs_give_the_same_flags():
    gen = torch.Generator().manual_seed(5)
    real = torch.randn(200, 6, generator=gen)
    synthetic = torch.cat([real[:50] + 1e-6, torch.randn(100, 6, generator=gen)])
    single = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
    double = alpha_precision_beta_recall_authenticity(real.double(), synthetic.double(), sample_level=True)
    for key in ("authentic", "covered", "nearest_real_index"):
        assert torch.equal(single[key], double[key]), key
    assert single["alpha_precision"].dtype == torch.float32
    assert double["alpha_precision"].dtype == torch.float64
    for key in SCALARS:
        assert abs(single[key].item() - double[key].item()) < 1e-6


def test_half_precision_is_computed_in_float32_or_better():
    gen = torch.Generator().manual_seed(6)
    real, synthetic = torch.randn(100, 4, generator=gen).half(), torch.randn(80, 4, generator=gen).half()
    result = alpha_precision_beta_recall_authenticity(real, synthetic)
    expected = alpha_precision_beta_recall_authenticity(real.float(), synthetic.float())
    assert result["alpha_precision"].dtype == torch.float32
    for key in SCALARS:
        assert result[key].item() == expected[key].item()


def test_output_shapes_and_keys():
    result = alpha_precision_beta_recall_authenticity(
        torch.randn(50, 3), torch.randn(40, 3), num_thresholds=11, sample_level=True
    )
    assert result["alpha_precision"].ndim == 0
    assert result["thresholds"].shape == result["alpha_precision_curve"].shape == (11,)
    assert set(SAMPLE_KEYS) <= set(result)
    assert result["alpha_level"].shape == result["authentic"].shape == (40,)
    assert result["covered"].shape == result["beta_level"].shape == (50,)
    assert result["authentic"].dtype == torch.bool
    assert math.isclose(result["thresholds"][-1].item(), 1.0)
    assert "authentic" not in alpha_precision_beta_recall_authenticity(torch.randn(50, 3), torch.randn(40, 3))


# ------------------------------------------------------------------------------------------------ bad input


def _ok():
    return torch.randn(20, 3), torch.randn(10, 3)


def test_error_wrong_rank():
    with pytest.raises(ValueError, match=r"`real` to be a 2-D tensor .* shape \(20, 3, 1\)"):
        alpha_precision_beta_recall_authenticity(torch.randn(20, 3, 1), torch.randn(10, 3))


def test_error_feature_mismatch():
    with pytest.raises(ValueError, match=r"same number of features, but got 3 for real and 4 for synthetic"):
        alpha_precision_beta_recall_authenticity(torch.randn(20, 3), torch.randn(10, 4))


def test_error_non_finite_says_how_many_and_where():
    real, synthetic = _ok()
    synthetic[[2, 5], 0] = float("nan")
    synthetic[7, 1] = float("inf")
    with pytest.raises(ValueError, match=r"`synthetic` to hold only finite values, but 3 of its 10 .*\[2, 5, 7\]"):
        alpha_precision_beta_recall_authenticity(real, synthetic)
    real[0, 0] = float("-inf")
    with pytest.raises(ValueError, match=r"`real` .* 1 of its 20"):
        alpha_precision_beta_recall_authenticity(real, synthetic)


def test_error_too_few_real_samples():
    with pytest.raises(ValueError, match=r"at least k \+ 1 = 6 samples .* but got 5"):
        alpha_precision_beta_recall_authenticity(torch.randn(5, 3), torch.randn(10, 3))


def test_error_no_synthetic_samples():
    with pytest.raises(ValueError, match=r"`synthetic` to hold at least 1 sample, but got 0"):
        alpha_precision_beta_recall_authenticity(torch.randn(20, 3), torch.randn(0, 3))


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "5"])
def test_error_bad_k(k):
    with pytest.raises(ValueError, match=r"`k` to be a positive integer, but got"):
        alpha_precision_beta_recall_authenticity(*_ok(), k=k)


@pytest.mark.parametrize("num_thresholds", [0, 1, 2.0])
def test_error_bad_num_thresholds(num_thresholds):
    with pytest.raises(ValueError, match=r"`num_thresholds` to be an integer >= 2"):
        alpha_precision_beta_recall_authenticity(*_ok(), num_thresholds=num_thresholds)


def test_error_bad_protocol():
    expected = r"`protocol` to be one of \('paper', 'reference', 'synthcity'\), but got 'papers'"
    with pytest.raises(ValueError, match=expected):
        alpha_precision_beta_recall_authenticity(*_ok(), protocol="papers")


def test_error_reference_protocol_fixes_k_and_grid():
    with pytest.raises(ValueError, match=r"`k` to be None or 1 with protocol='reference'"):
        alpha_precision_beta_recall_authenticity(*_ok(), protocol="reference", k=5)
    with pytest.raises(ValueError, match=r"`num_thresholds` to be None or 30"):
        alpha_precision_beta_recall_authenticity(*_ok(), protocol="reference", num_thresholds=101)


def test_error_bad_center_shape_and_values():
    with pytest.raises(ValueError, match=r"`center` to have shape \(3,\) .* but got shape \(4,\)"):
        alpha_precision_beta_recall_authenticity(*_ok(), center=torch.zeros(4))
    with pytest.raises(ValueError, match=r"`center` to hold only finite values"):
        alpha_precision_beta_recall_authenticity(*_ok(), center=torch.tensor([0.0, float("nan"), 0.0]))
    with pytest.raises(TypeError, match=r"`center` to be a real-valued tensor"):
        alpha_precision_beta_recall_authenticity(*_ok(), center=torch.zeros(3, dtype=torch.complex64))


def test_error_bad_chunk_size():
    with pytest.raises(ValueError, match=r"`chunk_size` to be a positive integer or None, but got 0"):
        alpha_precision_beta_recall_authenticity(*_ok(), chunk_size=0)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.complex64])
def test_error_integer_or_complex_dtype(dtype):
    real = torch.ones(20, 3, dtype=dtype)
    with pytest.raises(TypeError, match=rf"`real` to be a floating point tensor, but got dtype {dtype}"):
        alpha_precision_beta_recall_authenticity(real, torch.randn(10, 3))


def test_error_not_a_tensor():
    with pytest.raises(TypeError, match=r"`synthetic` to be a torch.Tensor .* but got list"):
        alpha_precision_beta_recall_authenticity(torch.randn(20, 3), [[0.0, 0.0, 0.0]])

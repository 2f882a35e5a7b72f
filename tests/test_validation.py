"""The paper's validation experiments (validation/experiments.py) at tiny sizes: the trends must hold.

docs/validation.md has the full-size numbers; these tests assert the same trends on a few hundred
samples. Tolerances are stated next to each assertion: they are several standard deviations of the
sampling noise at these sizes (checked over seeds), not fitted to one lucky draw.
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `validation/` lives at the repository root, outside the package
    sys.path.insert(0, str(ROOT))

from validation import experiments as E  # noqa: E402


def _column(result: dict, key: str) -> list[float]:
    return [row[key] for row in result["rows"]]


# --------------------------------------------------------------------------------------------------
# the classical k-NN precision/recall used for comparison
# --------------------------------------------------------------------------------------------------


def test_knn_precision_recall_by_hand() -> None:
    # Real points 0, 1, 2, 3, 10 on a line, k = 1: radii 1, 1, 1, 1, 7.
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    # Synthetic 0.5, 20, 30: radii 19.5, 10, 10. 0.5 lies in real balls; 20 in none (10 + 7 = 17 < 20),
    # 30 in none. Every real point lies within 19.5 of 0.5, so recall is 1.
    synthetic = torch.tensor([[0.5], [20.0], [30.0]])
    scores = E.knn_precision_recall(real, synthetic, k=1)
    assert scores["knn_precision"] == pytest.approx(1 / 3)
    assert scores["knn_recall"] == pytest.approx(1.0)
    # k = 2: real radii 2, 1, 1, 2, 8.
    # precision: 0.5 in; 20 not (|20 - 10| = 10 > 8); 30 not.
    scores = E.knn_precision_recall(real, synthetic, k=2)
    assert scores["knn_precision"] == pytest.approx(1 / 3)
    # Self is excluded by index: a duplicated real sample has a neighbour at distance 0.
    duplicated = torch.tensor([[0.0], [0.0], [5.0]])
    assert E.knn_precision_recall(duplicated, torch.tensor([[0.1]]), k=1)["knn_precision"] == 1.0  # ball of 5
    assert E.knn_precision_recall(duplicated[:2], torch.tensor([[0.1]]), k=1)["knn_precision"] == 0.0


def test_knn_precision_recall_identical_sets() -> None:
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert E.knn_precision_recall(x, x.clone(), k=5) == {"knn_precision": 1.0, "knn_recall": 1.0}


def test_load_split_is_stratified_and_disjoint() -> None:
    split = E.load_split("digits", train_per_class=30, held_out_per_class=20, seed=3)
    assert split.train.shape == (300, 64) and split.held_out.shape == (200, 64)
    assert torch.bincount(split.train_labels).tolist() == [30] * 10
    full = E.load_split("digits")
    assert full.train.shape[0] + full.held_out.shape[0] == 1797
    cancer = E.load_split("breast_cancer")
    assert cancer.train.shape[1] == 30
    # standardised with the training part's statistics
    assert cancer.train.mean(dim=0).abs().max() < 1e-4
    assert (cancer.train.std(dim=0) - 1).abs().max() < 1e-4


# --------------------------------------------------------------------------------------------------
# mode dropping
# --------------------------------------------------------------------------------------------------


def test_mode_dropping_raw() -> None:
    result = E.mode_dropping(space="raw", dropped=(0, 4, 8), train_per_class=30, repeats=2)
    beta_recall, coverage, kept = (
        _column(result, "beta_recall"),
        _column(result, "coverage"),
        _column(result, "kept_share"),
    )
    # The paper: IRβ falls as modes are dropped. Margins of 0.1 per step of 4 dropped classes; the full
    # run shows steps of about 0.2 (repeat-to-repeat spread about 0.02).
    assert beta_recall[0] - beta_recall[1] > 0.1
    assert beta_recall[1] - beta_recall[2] > 0.1
    # Coverage follows the share of real samples whose class is still generated. A dropped digit is
    # sometimes within the k-NN ball of a kept-class synthetic sample: at n = 300 that adds up to 0.13
    # over seeds 0-5, hence 0.2 slack; without dropping the coverage is ~0.95 (m ≈ n).
    assert coverage[0] > 0.85
    assert all(c <= share + 0.2 for c, share in zip(coverage, kept, strict=True))
    # The k-NN recall of Kynkäänniemi et al. falls too (same space, same k).
    knn_recall = _column(result, "knn_recall")
    assert knn_recall[0] - knn_recall[2] > 0.4
    # The generated samples are real digits: k-NN precision stays high whatever is dropped.
    assert min(_column(result, "knn_precision")) > 0.85


def test_mode_dropping_one_class() -> None:
    pytest.importorskip("faithful.embedding")
    result = E.mode_dropping(space="one-class", dropped=(0, 8), train_per_class=30, repeats=1, epochs=10)
    # In the one-class embedding the coverage still falls with 8 of 10 classes dropped (full run: 0.72 ->
    # 0.56), by less than in raw space; the docs report that IRβ there barely moves. 0.05 margin.
    coverage = _column(result, "coverage")
    assert coverage[0] - coverage[1] > 0.05


# --------------------------------------------------------------------------------------------------
# memorisation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "space", "train_per_class"),
    [("digits", "raw", 20), ("breast_cancer", "raw", None), ("digits", "one-class", 20)],
)
def test_memorisation_authenticity_falls_in_proportion(dataset: str, space: str, train_per_class: int | None) -> None:
    if space == "one-class":
        pytest.importorskip("faithful.embedding")
    result = E.memorisation(dataset=dataset, space=space, train_per_class=train_per_class, epochs=10)
    authenticity = _column(result, "authenticity")
    assert result["rows"][0]["share"] == 0.0 and result["rows"][-1]["share"] == 1.0
    # Noisy copies sit nearer their source than the source's nearest real neighbour: none is authentic.
    assert all(row["copies_closest"] == 1.0 for row in result["rows"][1:])
    assert authenticity[-1] == 0.0
    # Fresh held-out samples are authentic about half the time or more (full runs: 0.55-0.75).
    assert authenticity[0] > 0.3
    # A(share) ≈ A(0)·(1 − share). The fresh samples are nested prefixes, so the deviation is the
    # sampling noise of a prefix of (1 − share)·m samples: std about 0.016 at m = 200, largest deviation
    # over seeds 0-5 was 0.047; 0.07 allows 4 std.
    for row in result["rows"]:
        assert abs(row["authenticity"] - row["expected"]) < 0.07, row
    assert all(a >= b for a, b in itertools.pairwise(authenticity))


# --------------------------------------------------------------------------------------------------
# noise-added copies (Hide-and-Seek)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dataset", "train_per_class"), [("digits", 30), ("breast_cancer", None)])
def test_noisy_copies_authenticity_exposes_small_noise(dataset: str, train_per_class: int | None) -> None:
    sigmas = (0.0, 0.03, 0.1, 0.5, 1.0)
    result = E.noisy_copies(dataset=dataset, sigmas=sigmas, train_per_class=train_per_class)
    rows = {row["sigma"]: row for row in result["rows"] if not math.isnan(row["sigma"])}
    for sigma in (0.0, 0.03, 0.1):
        # Small noise: every record is still nearer to its source than the source's nearest neighbour
        # (A = 0 exactly), while fidelity and diversity look excellent (full run: IPα >= 0.97).
        assert rows[sigma]["authenticity"] == 0.0
        assert rows[sigma]["alpha_precision"] > 0.9
        assert rows[sigma]["beta_recall"] > 0.9
    # Large noise: authentic, but out of the real support; all three move monotonically in σ
    # (0.02 slack for the grid's sampling noise at these sizes).
    authenticity = [rows[s]["authenticity"] for s in sigmas]
    alpha_precision = [rows[s]["alpha_precision"] for s in sigmas]
    assert all(b >= a - 0.02 for a, b in itertools.pairwise(authenticity))
    assert all(b <= a + 0.02 for a, b in itertools.pairwise(alpha_precision))
    assert rows[1.0]["authenticity"] > 0.8
    assert rows[1.0]["alpha_precision"] < 0.5
    assert rows[1.0]["beta_recall"] < 0.5


# --------------------------------------------------------------------------------------------------
# curve shapes of the failure modes
# --------------------------------------------------------------------------------------------------


def test_failure_mode_curve_shapes() -> None:
    result = E.failure_modes(n=600, space="raw")
    rows = {row["case"]: row for row in result["rows"]}
    curves = result["results"]
    # A faithful generator: both curves near the diagonal (full run: IPα 0.99, IRβ 0.97).
    assert rows["faithful"]["alpha_precision"] > 0.9 and rows["faithful"]["beta_recall"] > 0.85
    # Collapse and dropping: β-recall curve well below the diagonal; coverage about the covered share.
    for case in ("mode collapse", "mode dropping"):
        assert rows[case]["beta_recall"] < 0.65 and rows[case]["beta_area"] < -0.15, case
    assert 0.35 < rows["mode dropping"]["coverage"] < 0.65  # 3 of 6 equal modes kept
    # Invention: a third of the samples come from modes beyond every real sample, so P_α ends at 2/3
    # instead of 1 (0.662-0.667 over seeds 0-5).
    assert abs(float(curves["mode invention"]["alpha_precision_curve"][-1]) - 2 / 3) < 0.03
    assert rows["mode invention"]["alpha_area"] < -0.1
    # Density shift: the outer half of the real distribution gives a P_α curve below the diagonal
    # (0 until α ≈ 0.5), the inner half one above it (1 from α ≈ 0.5). Exact areas: ∓0.25.
    assert rows["tails"]["alpha_area"] < -0.18
    assert rows["core"]["alpha_area"] > 0.18
    tails = curves["tails"]["alpha_precision_curve"]
    core = curves["core"]["alpha_precision_curve"]
    grid = curves["tails"]["thresholds"]
    assert float(tails[grid <= 0.4].max()) < 0.1 and float(core[grid >= 0.6].min()) > 0.9


# --------------------------------------------------------------------------------------------------
# IRβ of a perfect generator: why k = 5
# --------------------------------------------------------------------------------------------------


def test_perfect_generator_k1_caps_near_half() -> None:
    result = E.perfect_generator(ks=(1, 5), ns=(300,), repeats=2, digits=True)
    by_key = {(row["data"], row["k"]): row["beta_recall"] for row in result["rows"]}
    for data in ("mixture", "digits halves"):
        # SPEC: with k = 1 the nearest synthetic sample is closer than the nearest real one about half
        # the time, so IRβ ≈ 0.5 (± 0.15 at n = 300) ...
        assert abs(by_key[(data, 1)] - 0.5) < 0.15, data
        # ... and k = 5 brings a perfect generator close to 1 (full run: 0.93-0.97).
        assert by_key[(data, 5)] > 0.85, data


# --------------------------------------------------------------------------------------------------
# the embedding's training length; the command that writes the report
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_embedding_fitted_on_the_reference_flatters_copies() -> None:
    pytest.importorskip("faithful.embedding")
    result = E.embedding_epochs(epochs=(40,), per_part=300)
    rows = {row["fit_on"]: row for row in result["rows"]}
    # Fitted on the reference set itself, the embedding pulls exactly those samples to the center:
    # unseen held-out samples score a lower IPα than noisy copies of the reference, and lower than in
    # an embedding fitted on a disjoint real split (full run at 40 epochs: 0.70 vs 0.97).
    assert rows["reference"]["held_out_alpha_precision"] < rows["reference"]["copies_alpha_precision"] - 0.1
    assert rows["reference"]["held_out_alpha_precision"] < rows["disjoint"]["held_out_alpha_precision"] - 0.1
    # Copies stay non-authentic in every space.
    assert all(row["copies_authenticity"] == 0.0 for row in result["rows"])


@pytest.mark.slow
def test_run_quick_writes_report_and_figures(tmp_path: Path) -> None:
    pytest.importorskip("faithful.embedding")
    from validation import run

    run.main(["--quick", "--out", str(tmp_path)])
    report = (tmp_path / "validation.md").read_text()
    assert "python validation/run.py" in report
    images = sorted(path.name for path in (tmp_path / "images").glob("validation_*.png"))
    assert len(images) == 6
    for name in images:
        assert f"images/{name}" in report

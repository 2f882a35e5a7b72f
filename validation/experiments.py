"""The paper's validation experiments on bundled real data, as pure functions of their sizes.

Alaa et al. (ICML 2022) check that α-precision (IPα), β-recall (IRβ) and authenticity (A) react to
the failures they are meant to expose. Each function below re-runs one such check with
:mod:`faithful` and returns a small table: ``{"rows": [dict, ...], ...}`` with one dict of plain
Python numbers per row (plus, where a figure needs them, the curves). Sizes are parameters, so the
tests run tiny versions and ``validation/run.py`` the full ones.

"Bundled real data" means the data sets scikit-learn ships (no download): the digits (1797 8×8
images, used as 64 tabular pixel columns with values 0..16) and the breast cancer table (569 × 30,
standardised with the training split's statistics). Held-out real samples stand in for a generator
that has learned the distribution without copying it.

Every experiment can run in two evaluation spaces (``space``):

- ``"raw"``: the features as they are (pixels, standardised columns, Gaussian-mixture coordinates);
- ``"one-class"``: :class:`faithful.embedding.OneClassEmbedding` (Deep SVDD, the paper's evaluation
  embedding) fitted on the real training split only; both sets are embedded with it and its center is
  the metric's ``c_r``.

Everything is seeded through local ``torch.Generator`` objects; the global RNG is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from faithful.functional import alpha_precision_beta_recall_authenticity

__all__ = [
    "DATASETS",
    "FAILURE_MODES",
    "SPACES",
    "Space",
    "Split",
    "embedding_epochs",
    "evaluate",
    "failure_modes",
    "gaussian_mixture",
    "knn_precision_recall",
    "load_split",
    "make_space",
    "memorisation",
    "mode_dropping",
    "noisy_copies",
    "perfect_generator",
]

DATASETS = ("digits", "breast_cancer")
SPACES = ("raw", "one-class")
FAILURE_MODES = ("faithful", "mode collapse", "mode dropping", "mode invention", "tails", "core")

#: One-class embedding used by every "one-class" experiment (a small Deep SVDD, soft-boundary objective).
#: 20 epochs: longer fits pull the *training* samples ever closer to the center, and unseen samples of the
#: same distribution then look atypical (see :func:`embedding_epochs`).
EMBEDDING = {"hidden": (128, 64), "out_features": 32, "objective": "soft-boundary", "nu": 0.1}
EMBEDDING_EPOCHS = 20


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """A seeded, class-stratified split of a bundled data set (float32 tensors, int64 labels)."""

    train: Tensor
    train_labels: Tensor
    held_out: Tensor
    held_out_labels: Tensor


@lru_cache(maxsize=4)
def _load(dataset: str) -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_breast_cancer, load_digits

    if dataset not in DATASETS:
        raise ValueError(f"Expected argument `dataset` to be one of {DATASETS}, but got {dataset!r}.")
    loader = load_digits if dataset == "digits" else load_breast_cancer
    x, y = loader(return_X_y=True)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)


def load_split(
    dataset: str = "digits",
    *,
    train_per_class: int | None = None,
    held_out_per_class: int | None = None,
    seed: int = 0,
) -> Split:
    """Split ``dataset`` per class into a training part (the generator's data) and a held-out part.

    Args:
        dataset: ``"digits"`` (raw pixel values 0..16) or ``"breast_cancer"`` (standardised with the
            training part's mean and standard deviation).
        train_per_class: training samples per class; ``None``: half of each class (rounded down).
        held_out_per_class: cap on the held-out samples per class; ``None``: all the rest.
        seed: seed of the shuffle.
    """
    x, y = _load(dataset)
    generator = torch.Generator().manual_seed(seed)
    train_index, held_out_index = [], []
    for label in torch.unique(y).tolist():
        index = torch.nonzero(y == label).flatten()
        index = index[torch.randperm(index.numel(), generator=generator)]
        cut = index.numel() // 2 if train_per_class is None else min(train_per_class, index.numel() - 1)
        train_index.append(index[:cut])
        held_out_index.append(index[cut:] if held_out_per_class is None else index[cut : cut + held_out_per_class])
    train_index_t, held_out_index_t = torch.cat(train_index), torch.cat(held_out_index)
    train, held_out = x[train_index_t], x[held_out_index_t]
    if dataset == "breast_cancer":
        mean, std = train.mean(dim=0), train.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        train, held_out = (train - mean) / std, (held_out - mean) / std
    return Split(train, y[train_index_t], held_out, y[held_out_index_t])


def gaussian_mixture(
    means: Tensor, std: float | Tensor, num_samples: int, generator: torch.Generator, weights: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """``num_samples`` draws from an isotropic Gaussian mixture; returns ``(samples, component)``."""
    k = means.shape[0]
    weights = torch.full((k,), 1.0 / k) if weights is None else weights / weights.sum()
    component = torch.multinomial(weights, num_samples, replacement=True, generator=generator)
    std_t = torch.as_tensor(std, dtype=torch.float32).expand(k)
    noise = torch.randn(num_samples, means.shape[1], generator=generator)
    return means[component] + std_t[component, None] * noise, component


# --------------------------------------------------------------------------------------------------
# evaluation spaces and scores
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Space:
    """An evaluation space: how samples are embedded and which center the metric uses."""

    name: str
    embed: Callable[[Tensor], Tensor]
    center: Tensor | None = None


def _identity(x: Tensor) -> Tensor:
    return x


def make_space(space: str, train: Tensor, *, epochs: int = EMBEDDING_EPOCHS, seed: int = 0) -> Space:
    """``"raw"`` (identity) or ``"one-class"`` (a Deep SVDD fitted on ``train`` only, then frozen)."""
    if space == "raw":
        return Space("raw", _identity)
    if space != "one-class":
        raise ValueError(f"Expected argument `space` to be one of {SPACES}, but got {space!r}.")
    from faithful.embedding import OneClassEmbedding

    embedding = OneClassEmbedding(train.shape[1], **EMBEDDING)  # type: ignore[arg-type]
    embedding.fit(train, epochs=epochs, seed=seed, progress=False)

    @torch.no_grad()
    def embed(x: Tensor) -> Tensor:
        return embedding(x).detach()

    return Space("one-class", embed, embedding.center.detach().clone())


def _radius(x: Tensor, k: int) -> Tensor:
    """Distance of every row of ``x`` to its k-th nearest *other* row (self excluded by index)."""
    distances = torch.cdist(x, x)
    distances.fill_diagonal_(math.inf)
    return distances.kthvalue(k, dim=1).values


def knn_precision_recall(real: Tensor, synthetic: Tensor, k: int = 5) -> dict[str, float]:
    """Improved precision and recall of Kynkäänniemi et al. (NeurIPS 2019) with k-NN balls.

    precision: share of synthetic samples inside the k-NN ball of some real sample; recall: share of real
    samples inside the k-NN ball of some synthetic sample (radii: distance to the k-th nearest other
    sample of the same set). Exact, float64, full distance matrices: meant for a few thousand samples.
    """
    real, synthetic = real.to(torch.float64), synthetic.to(torch.float64)
    cross = torch.cdist(synthetic, real)  # (m, n)
    precision = (cross <= _radius(real, k)[None, :]).any(dim=1).double().mean()
    recall = (cross <= _radius(synthetic, k)[:, None]).any(dim=0).double().mean()
    return {"knn_precision": float(precision), "knn_recall": float(recall)}


def evaluate(
    real: Tensor, synthetic: Tensor, space: Space, *, k: int = 5, knn: bool = False, curves: bool = False
) -> dict:
    """IPα, IRβ, A and the coverage R_β at β = 1 of ``synthetic`` against ``real``, in ``space``.

    ``knn=True`` adds the k-NN precision/recall (same k, same space); ``curves=True`` adds the metric's
    full result under ``"result"`` (for plotting).
    """
    real_embedded, synthetic_embedded = space.embed(real), space.embed(synthetic)
    result = alpha_precision_beta_recall_authenticity(real_embedded, synthetic_embedded, k=k, center=space.center)
    row: dict = {
        "alpha_precision": float(result["alpha_precision"]),
        "beta_recall": float(result["beta_recall"]),
        "coverage": float(result["beta_recall_curve"][-1]),
        "authenticity": float(result["authenticity"]),
    }
    if knn:
        row.update(knn_precision_recall(real_embedded, synthetic_embedded, k))
    if curves:
        row["result"] = result
    return row


def _mean_rows(rows: Sequence[dict], keys: Sequence[str]) -> dict:
    """Mean and (population) standard deviation over repeats of the numeric ``keys``."""
    out: dict = {}
    for key in keys:
        values = torch.tensor([row[key] for row in rows], dtype=torch.float64)
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std(correction=0)) if len(rows) > 1 else 0.0
    return out


# --------------------------------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------------------------------


def mode_dropping(
    *,
    space: str = "raw",
    dropped: Sequence[int] = (0, 2, 4, 6, 8),
    train_per_class: int = 60,
    repeats: int = 3,
    k: int = 5,
    seed: int = 0,
    epochs: int = EMBEDDING_EPOCHS,
) -> dict:
    """Digits: "generators" that drop classes, against the full real training split.

    The generator for a number of dropped classes samples the held-out digits of the remaining classes
    (which classes are dropped: a seeded random order per repeat, nested so that dropping 4 drops the 2
    of before). Every generator emits the same number m of samples, without replacement: m is the
    smallest held-out pool of the most-dropping generator, so no generator repeats a sample.

    Returns ``{"rows": [...], "n": n, "m": m}``; a row holds ``dropped``, ``kept_share`` (the share of
    real samples whose class is generated: what an ideal diversity score would report at β = 1), and the
    mean (and ``*_std`` over repeats) of IPα, IRβ, coverage, A and the k-NN precision/recall.
    """
    split = load_split("digits", train_per_class=train_per_class, seed=seed)
    evaluation_space = make_space(space, split.train, epochs=epochs, seed=seed)
    classes = torch.unique(split.train_labels)
    pool_sizes = torch.stack([(split.held_out_labels == c).sum() for c in classes])
    m = (len(classes) - max(dropped)) * int(pool_sizes.min())
    generator = torch.Generator().manual_seed(seed + 1)
    per_repeat: dict[int, list[dict]] = {d: [] for d in dropped}
    for _ in range(repeats):
        order = classes[torch.randperm(len(classes), generator=generator)]
        for d in dropped:
            pool = torch.nonzero(torch.isin(split.held_out_labels, order[d:])).flatten()
            chosen = pool[torch.randperm(pool.numel(), generator=generator)[:m]]
            row = evaluate(split.train, split.held_out[chosen], evaluation_space, k=k, knn=True)
            row["kept_share"] = float(torch.isin(split.train_labels, order[d:]).double().mean())
            per_repeat[d].append(row)
    keys = ("kept_share", "alpha_precision", "beta_recall", "coverage", "authenticity", "knn_precision", "knn_recall")
    rows = [{"dropped": d, **_mean_rows(per_repeat[d], keys)} for d in dropped]
    return {"rows": rows, "n": split.train.shape[0], "m": m, "space": space}


def _noise(x: Tensor, scale: float, reference: Tensor, generator: torch.Generator) -> Tensor:
    """``x`` plus Gaussian noise of ``scale`` times the per-feature standard deviation of ``reference``."""
    std = reference.std(dim=0, correction=0)
    return x + scale * std * torch.randn(x.shape, generator=generator)


def _copy_is_closest(real: Tensor, copies: Tensor, source: Tensor) -> float:
    """Share of copies closer to their source than the source is to its nearest other real sample."""
    to_source = torch.linalg.vector_norm((copies - real[source]).double(), dim=1)
    return float((to_source < _radius(real.double(), 1)[source]).double().mean())


def memorisation(
    *,
    dataset: str = "digits",
    space: str = "raw",
    shares: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    num_synthetic: int | None = None,
    noise: float = 0.05,
    train_per_class: int | None = None,
    k: int = 5,
    seed: int = 0,
    epochs: int = EMBEDDING_EPOCHS,
) -> dict:
    """A "generator" that memorises: a share of its m samples are noisy copies of training samples.

    The copies are training samples plus Gaussian noise of ``noise`` times each feature's standard
    deviation (small enough that a copy stays nearer to its source than the source's nearest real
    neighbour: reported as ``copies_closest`` in the evaluation space). The rest are fresh held-out
    samples. Nested draws: a larger share keeps the copies of a smaller one and a prefix of its fresh
    samples, so the rows differ only by the copied share. The paper's claim: A falls in proportion,
    A(share) ≈ A(0)·(1 − share) (``expected``), since every copy is non-authentic.

    Returns ``{"rows": [...], "n": n, "m": m}``.
    """
    split = load_split(dataset, train_per_class=train_per_class, seed=seed)
    evaluation_space = make_space(space, split.train, epochs=epochs, seed=seed)
    n = split.train.shape[0]
    m = min(n, split.held_out.shape[0]) if num_synthetic is None else num_synthetic
    generator = torch.Generator().manual_seed(seed + 2)
    source = torch.randperm(n, generator=generator)[:m]
    copies = _noise(split.train[source], noise, split.train, generator)
    fresh = split.held_out[torch.randperm(split.held_out.shape[0], generator=generator)[:m]]
    real_embedded = evaluation_space.embed(split.train)
    rows = []
    for share in shares:
        num_copies = round(share * m)
        synthetic = torch.cat([copies[:num_copies], fresh[: m - num_copies]])
        row = {"share": share, **evaluate(split.train, synthetic, evaluation_space, k=k)}
        if num_copies:
            copies_embedded = evaluation_space.embed(copies[:num_copies])
            row["copies_closest"] = _copy_is_closest(real_embedded, copies_embedded, source[:num_copies])
        rows.append(row)
    for row in rows:
        row["expected"] = rows[0]["authenticity"] * (1.0 - row["share"]) if shares[0] == 0.0 else math.nan
    return {"rows": rows, "n": n, "m": m, "dataset": dataset, "space": space, "noise": noise}


def noisy_copies(
    *,
    dataset: str = "digits",
    space: str = "raw",
    sigmas: Sequence[float] = (0.0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0),
    train_per_class: int | None = None,
    k: int = 5,
    seed: int = 0,
    epochs: int = EMBEDDING_EPOCHS,
) -> dict:
    """The Hide-and-Seek "generator": every training record plus Gaussian noise of level σ.

    σ is relative to each feature's standard deviation. Small σ is a privacy leak that looks like a
    perfect generator to fidelity and diversity scores; only authenticity can tell. A last row
    (``sigma = nan``, ``label = "held-out"``) scores fresh held-out samples for comparison.

    Returns ``{"rows": [...], "n": n}``; rows hold ``sigma`` and IPα, IRβ, coverage, A.
    """
    split = load_split(dataset, train_per_class=train_per_class, seed=seed)
    evaluation_space = make_space(space, split.train, epochs=epochs, seed=seed)
    generator = torch.Generator().manual_seed(seed + 3)
    base_noise = _noise(torch.zeros_like(split.train), 1.0, split.train, generator)  # same draw for every σ
    rows = []
    for sigma in sigmas:
        row = evaluate(split.train, split.train + sigma * base_noise, evaluation_space, k=k)
        rows.append({"sigma": sigma, "label": f"σ = {sigma:g}", **row})
    rows.append(
        {"sigma": math.nan, "label": "held-out", **evaluate(split.train, split.held_out, evaluation_space, k=k)}
    )
    return {"rows": rows, "n": split.train.shape[0], "dataset": dataset, "space": space}


#: Component means of the 2-D real mixture of :func:`failure_modes` (an irregular constellation).
_MODES = torch.tensor([[0.0, 0.0], [3.0, 1.0], [-2.5, 2.0], [-1.5, -3.0], [2.0, -2.5], [0.5, 3.5]])
#: Where the invented modes go: empty regions outside the real constellation, beyond its largest
#: distance from the real center (about 5.3 for n = 2000), so α-precision can see them.
_INVENTED = torch.tensor([[7.0, -1.0], [-6.5, -0.5], [-3.5, 6.5]])
_MODE_STD = 0.5


def failure_modes(
    *, n: int = 2000, space: str = "raw", k: int = 5, seed: int = 0, epochs: int = EMBEDDING_EPOCHS
) -> dict:
    """Curve shapes of the paper's failure modes on a 2-D mixture of six Gaussians (std 0.5).

    Synthetic sets (m = n each):

    - ``faithful``: an independent draw from the real mixture;
    - ``mode collapse``: every component shrunk to a quarter of its width (samples pile up on the modes);
    - ``mode dropping``: only three of the six components;
    - ``mode invention``: two thirds from the real mixture, one third from three modes where it has none;
    - ``tails`` / ``core``: density shift: of 2m real-mixture draws, the m farthest from (nearest to) the
      real center, i.e. the real distribution conditioned on its outer (inner) half.

    Returns ``{"rows": [...], "real": real, "synthetic": {case: tensor}, "results": {case: metric output}}``.
    Each row adds to IPα, IRβ, coverage and A the signed area ``alpha_area`` = ∫(P_α − α) dα and
    ``beta_area`` = ∫(R_β − β) dβ (trapezoid on the grid): > 0 means the curve runs above the diagonal.
    """
    generator = torch.Generator().manual_seed(seed)
    real, _ = gaussian_mixture(_MODES, _MODE_STD, n, generator)
    center = real.mean(dim=0)
    synthetic: dict[str, Tensor] = {}
    synthetic["faithful"] = gaussian_mixture(_MODES, _MODE_STD, n, generator)[0]
    synthetic["mode collapse"] = gaussian_mixture(_MODES, _MODE_STD / 4, n, generator)[0]
    synthetic["mode dropping"] = gaussian_mixture(_MODES[::2], _MODE_STD, n, generator)[0]
    num_invented = n // 3
    synthetic["mode invention"] = torch.cat(
        [
            gaussian_mixture(_MODES, _MODE_STD, n - num_invented, generator)[0],
            gaussian_mixture(_INVENTED, _MODE_STD, num_invented, generator)[0],
        ]
    )
    pool = gaussian_mixture(_MODES, _MODE_STD, 2 * n, generator)[0]
    by_radius = torch.argsort(torch.linalg.vector_norm(pool - center, dim=1))
    synthetic["tails"] = pool[by_radius[n:]]
    synthetic["core"] = pool[by_radius[:n]]

    evaluation_space = make_space(space, real, epochs=epochs, seed=seed)
    rows, results = [], {}
    for case in FAILURE_MODES:
        row = evaluate(real, synthetic[case], evaluation_space, k=k, curves=True)
        result = results[case] = row.pop("result")
        grid = result["thresholds"].double()
        row["alpha_area"] = float(torch.trapezoid(result["alpha_precision_curve"].double() - grid, grid))
        row["beta_area"] = float(torch.trapezoid(result["beta_recall_curve"].double() - grid, grid))
        rows.append({"case": case, **row})
    return {"rows": rows, "real": real, "synthetic": synthetic, "results": results, "space": space}


def perfect_generator(
    *,
    ks: Sequence[int] = (1, 3, 5, 10),
    ns: Sequence[int] = (250, 1000, 4000),
    dim: int = 8,
    components: int = 10,
    repeats: int = 3,
    digits: bool = True,
    seed: int = 0,
) -> dict:
    """IRβ (and coverage) of a perfect generator as a function of k and n = m.

    Real and synthetic are independent draws of the same size from a ``components``-Gaussian mixture
    in ``dim`` dimensions (means ~ N(0, 3² I), unit-variance components, a new mixture per repeat).
    ``digits=True`` adds the two halves of the digits (n ≈ m ≈ 898), one split per repeat.

    Returns ``{"rows": [...]}``; a row holds ``data``, ``n``, ``k``, and mean/std of ``beta_recall``,
    ``coverage`` and ``alpha_precision`` over the repeats.
    """
    raw = Space("raw", _identity)
    rows = []
    settings: list[tuple[str, int]] = [("mixture", n) for n in ns]
    if digits:
        settings.append(("digits halves", 0))
    for data, n in settings:
        per_k: dict[int, list[dict]] = {k: [] for k in ks}
        for repeat in range(repeats):
            generator = torch.Generator().manual_seed(seed + 100 * repeat + n)
            if data == "mixture":
                means = 3.0 * torch.randn(components, dim, generator=generator)
                real = gaussian_mixture(means, 1.0, n, generator)[0]
                synthetic = gaussian_mixture(means, 1.0, n, generator)[0]
            else:
                split = load_split("digits", seed=seed + repeat)
                real, synthetic = split.train, split.held_out
            for k in ks:
                per_k[k].append(evaluate(real, synthetic, raw, k=k))
        for k in ks:
            size = real.shape[0]
            rows.append(
                {
                    "data": data,
                    "n": size,
                    "k": k,
                    **_mean_rows(per_k[k], ("beta_recall", "coverage", "alpha_precision")),
                }
            )
    return {"rows": rows, "dim": dim, "components": components, "repeats": repeats}


def embedding_epochs(
    *,
    epochs: Sequence[int] = (1, 5, 10, 20, 40, 60),
    dataset: str = "digits",
    noise: float = 0.05,
    per_part: int | None = None,
    seed: int = 0,
    k: int = 5,
) -> dict:
    """What the one-class embedding's training length does to a perfect and to a copying generator.

    The data set is cut into three equal random parts: the real reference (the generator's training
    data), a held-out part (a perfect generator) and a third part. For each number of epochs the
    embedding is fitted either on the reference itself (``fit_on = "reference"``, as in the other
    experiments) or on the disjoint third part (``fit_on = "disjoint"``); the held-out part and noisy
    copies of the reference (``noise`` × per-feature std) are scored in it. ``epochs = 0`` is the raw
    space.

    Returns ``{"rows": [...], "n": n}``; a row holds ``epochs``, ``fit_on`` and ``held_out_*`` (IPα, IRβ,
    coverage, A, and ``held_out_r10``: R_β at β = 0.1, which is 0.1 × coverage when the matched synthetic
    samples are as typical as the synthetic set) and ``copies_*`` (IPα, A).
    """
    x, _ = _load(dataset)
    generator = torch.Generator().manual_seed(seed)
    x = x[torch.randperm(x.shape[0], generator=generator)]
    size = x.shape[0] // 3 if per_part is None else per_part
    reference, held_out, disjoint = x[:size], x[size : 2 * size], x[2 * size : 3 * size]
    if dataset == "breast_cancer":
        mean, std = reference.mean(dim=0), reference.std(dim=0).clamp_min(1e-12)
        reference, held_out, disjoint = ((part - mean) / std for part in (reference, held_out, disjoint))
    copies = _noise(reference, noise, reference, generator)
    rows = []
    settings = [(0, "raw")] + [(e, fit_on) for e in epochs for fit_on in ("reference", "disjoint")]
    for num_epochs, fit_on in settings:
        if num_epochs == 0:
            evaluation_space = make_space("raw", reference)
        else:
            fit_data = reference if fit_on == "reference" else disjoint
            evaluation_space = make_space("one-class", fit_data, epochs=num_epochs, seed=seed)
        held = evaluate(reference, held_out, evaluation_space, k=k, curves=True)
        result = held.pop("result")
        copied = evaluate(reference, copies, evaluation_space, k=k)
        rows.append(
            {
                "epochs": num_epochs,
                "fit_on": fit_on,
                **{f"held_out_{key}": value for key, value in held.items()},
                "held_out_r10": float(result["beta_recall_curve"][(result["thresholds"] - 0.1).abs().argmin()]),
                "copies_alpha_precision": copied["alpha_precision"],
                "copies_authenticity": copied["authenticity"],
            }
        )
    return {"rows": rows, "n": size, "dataset": dataset}

"""Auditing synthetic data sample by sample, and what it does for a downstream classifier.

The paper's section 4: every synthetic sample gets an α-level (how typical it is of the real data) and an
authenticity flag (is it a near-copy of a training record?). Auditing keeps the samples inside the
α-support at level α* that are authentic and drops the rest. Here a deliberately flawed generator on
scikit-learn's breast cancer table makes the effect visible:

- ``good``: a class-conditional Gaussian fitted to the training records (a fair, simple generator);
- ``junk``: off-support records (good ones blown up 3x away from the data's center) with flipped labels,
  the failure a bad generator produces and a downstream model is hurt by;
- ``copies``: training records plus 1% noise, with their labels: fine for accuracy, bad for privacy.

Each synthetic record carries its label as a column (the metrics see the 30 standardised features). A
logistic regression is trained on the synthetic records, before and after the audit, and tested on real
held-out records: accuracy and AUROC, next to the same model trained on the real training records.

Run::

    python examples/audit_synthetic.py
    python examples/audit_synthetic.py --alpha 0.8 --junk 0.3 --copies 0.1
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from faithful.functional import alpha_precision_beta_recall_authenticity

KINDS = ("good", "junk", "copies")


@dataclass
class Downstream:
    """Accuracy and AUROC of a classifier on the real test split, and the training-set size."""

    accuracy: float
    auroc: float
    num_train: int


@dataclass
class AuditReport:
    before: Downstream  #: trained on every synthetic record
    after: Downstream  #: trained on the audited records
    random_subset: Downstream  #: trained on a random subset of the same size (the control)
    real: Downstream  #: trained on the real training records (the reference)
    num_test: int  #: real held-out records the classifiers are tested on
    num_synthetic: int
    num_kept: int
    kept_by_kind: dict[str, tuple[int, int]]  #: kind -> (kept, generated)
    scores_before: dict[str, float]  #: IPα, IRβ, A of all synthetic records
    scores_after: dict[str, float]  #: IPα, IRβ, A of the kept records


def load_split(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Breast cancer: stratified 70/30 split, standardised with the training split's statistics."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=seed
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)

    def to_tensor(a: np.ndarray) -> Tensor:
        return torch.as_tensor(a, dtype=torch.float32)

    return (
        to_tensor((x_train - mean) / std),
        torch.as_tensor(y_train),
        to_tensor((x_test - mean) / std),
        torch.as_tensor(y_test),
    )


def flawed_generator(
    x: Tensor, y: Tensor, num_samples: int, junk: float, copies: float, seed: int
) -> tuple[Tensor, Tensor, list[str]]:
    """``num_samples`` labelled synthetic records: good ones, off-support junk with flipped labels, near-copies."""
    gen = torch.Generator().manual_seed(seed)
    num_junk, num_copies = round(junk * num_samples), round(copies * num_samples)
    num_good = num_samples - num_junk - num_copies

    def good_records(n: int) -> tuple[Tensor, Tensor]:
        labels = y[torch.randint(y.numel(), (n,), generator=gen)]  # class frequencies of the training data
        records = torch.empty(n, x.shape[1])
        for label in labels.unique():
            rows = x[y == label].double()
            mean = rows.mean(dim=0)
            covariance = torch.cov(rows.T) + 1e-3 * torch.eye(x.shape[1], dtype=torch.float64)
            where = labels == label
            noise = torch.randn(int(where.sum()), x.shape[1], generator=gen, dtype=torch.float64)
            records[where] = (mean + noise @ torch.linalg.cholesky(covariance).T).float()
        return records, labels

    good_x, good_y = good_records(num_good)
    junk_x, junk_y = good_records(num_junk)
    center = x.mean(dim=0)
    junk_x = center + 3.0 * (junk_x - center)
    junk_y = 1 - junk_y
    index = torch.randint(x.shape[0], (num_copies,), generator=gen)
    copy_x = x[index] + 0.01 * torch.randn(num_copies, x.shape[1], generator=gen)
    copy_y = y[index]
    kinds = ["good"] * num_good + ["junk"] * num_junk + ["copies"] * num_copies
    return torch.cat([good_x, junk_x, copy_x]), torch.cat([good_y, junk_y, copy_y]), kinds


def downstream(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor) -> Downstream:
    """Logistic regression trained on ``(x_train, y_train)``, scored on the real test records."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score

    model = LogisticRegression(max_iter=5000).fit(x_train.numpy(), y_train.numpy())
    probability = model.predict_proba(x_test.numpy())[:, 1]
    return Downstream(
        accuracy=float(accuracy_score(y_test.numpy(), probability > 0.5)),
        auroc=float(roc_auc_score(y_test.numpy(), probability)),
        num_train=int(x_train.shape[0]),
    )


def _keep_mask(scores: dict[str, Tensor], alpha: float) -> Tensor:
    from faithful import audit

    return audit(scores, alpha=alpha, require_authentic=True).keep


def run(
    alpha: float = 0.9, num_samples: int = 1000, junk: float = 0.2, copies: float = 0.2, seed: int = 0
) -> AuditReport:
    """Generate, score, audit and compare; prints the report and returns it."""
    x_train, y_train, x_test, y_test = load_split(seed)
    synthetic, labels, kinds = flawed_generator(x_train, y_train, num_samples, junk, copies, seed)

    scores = alpha_precision_beta_recall_authenticity(x_train, synthetic, sample_level=True)
    keep = _keep_mask(scores, alpha)
    subset = torch.randperm(num_samples, generator=torch.Generator().manual_seed(seed))[: int(keep.sum())]
    kept = alpha_precision_beta_recall_authenticity(x_train, synthetic[keep])
    kind_array = np.array(kinds)
    kept_by_kind = {
        kind: (int(keep.numpy()[kind_array == kind].sum()), int((kind_array == kind).sum())) for kind in KINDS
    }
    names = ("alpha_precision", "beta_recall", "authenticity")
    report = AuditReport(
        before=downstream(synthetic, labels, x_test, y_test),
        after=downstream(synthetic[keep], labels[keep], x_test, y_test),
        random_subset=downstream(synthetic[subset], labels[subset], x_test, y_test),
        real=downstream(x_train, y_train, x_test, y_test),
        num_test=int(y_test.numel()),
        num_synthetic=num_samples,
        num_kept=int(keep.sum()),
        kept_by_kind=kept_by_kind,
        scores_before={name: float(scores[name]) for name in names},
        scores_after={name: float(kept[name]) for name in names},
    )
    _print(report, alpha, scores, keep)
    return report


def _print(report: AuditReport, alpha: float, scores: dict[str, Tensor], keep: Tensor) -> None:
    inside = int((scores["alpha_level"] <= alpha).sum())
    authentic = int(scores["authentic"].sum())
    print(
        f"Audit (α* = {alpha:g}, authentic only): kept {report.num_kept} of {report.num_synthetic} synthetic "
        f"records ({inside} inside the α-support, {authentic} authentic)."
    )
    print("  kept by kind: " + ", ".join(f"{k} {kept}/{total}" for k, (kept, total) in report.kept_by_kind.items()))
    print(f"\n{'':28}{'IPα':>7}{'IRβ':>7}{'A':>7}")
    for name, values in (("all synthetic records", report.scores_before), ("audited records", report.scores_after)):
        print(f"{name:28}" + "".join(f"{values[key]:7.3f}" for key in values))
    print(f"\nLogistic regression, tested on {report.num_test} real held-out records:")
    print(f"{'trained on':28}{'n':>6}{'accuracy':>10}{'AUROC':>8}")
    for name, result in (
        ("all synthetic records", report.before),
        ("audited synthetic records", report.after),
        ("random subset, same size", report.random_subset),
        ("real training records", report.real),
    ):
        print(f"{name:28}{result.num_train:6d}{result.accuracy:10.3f}{result.auroc:8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audit_synthetic.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alpha", type=float, default=0.9, help="keep records with α-level <= ALPHA (default 0.9)")
    parser.add_argument("--num-samples", type=int, default=1000, help="synthetic records (default 1000)")
    parser.add_argument("--junk", type=float, default=0.2, help="share of off-support junk (default 0.2)")
    parser.add_argument("--copies", type=float, default=0.2, help="share of near-copies (default 0.2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must be in [0, 1], got {args.alpha}")
    if args.junk < 0 or args.copies < 0 or args.junk + args.copies >= 1:
        parser.error("--junk and --copies must be >= 0 and sum to less than 1")
    run(args.alpha, args.num_samples, args.junk, args.copies, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

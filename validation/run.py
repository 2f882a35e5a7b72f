"""Regenerate the validation report: ``python validation/run.py`` from the repository root.

Runs every experiment of :mod:`validation.experiments` at full size, prints the tables, writes the
figures to ``docs/images/validation_*.png`` and the report to ``docs/validation.md``. About 3-5 minutes
on 2 CPU cores. ``--quick`` runs tiny sizes into a scratch directory (a smoke test of this script).
"""

from __future__ import annotations

import argparse
import math
import pickle
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python validation/run.py` puts validation/, not the root, on the path
    sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from faithful.plotting import plot_curves  # noqa: E402
from validation import experiments as E  # noqa: E402

Column = tuple[str, str, str]  # (key, header, format)
SCORES: list[Column] = [
    ("alpha_precision", "IPα", ".3f"),
    ("beta_recall", "IRβ", ".3f"),
    ("coverage", "R_β(1)", ".3f"),
    ("authenticity", "A", ".3f"),
]


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    text = format(value, fmt)
    spread = row.get(f"{key}_std")
    if spread:
        text += f" ± {spread:{fmt}}"
    return text


def markdown_table(rows: Sequence[dict], columns: Sequence[Column]) -> str:
    """A Markdown table of ``rows``; ``key_std`` entries are shown as ``± std`` next to ``key``."""
    lines = ["| " + " | ".join(header for _, header, _ in columns) + " |"]
    lines.append("|" + "|".join("---:" for _ in columns) + "|")
    lines += ["| " + " | ".join(_cell(row, key, fmt) for key, _, fmt in columns) + " |" for row in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------


def plot_mode_dropping(results: dict[str, dict], path: Path) -> None:
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.2), layout="constrained", squeeze=False)
    for ax, (space, result) in zip(axes[0], results.items(), strict=True):
        rows = result["rows"]
        dropped = [row["dropped"] for row in rows]
        ax.plot(dropped, [row["kept_share"] for row in rows], ":", color="0.4", label="kept share (ideal coverage)")
        for key, label, style in (
            ("beta_recall", "IRβ", "-o"),
            ("coverage", "R_β at β = 1 (coverage)", "-s"),
            ("knn_recall", "k-NN recall (Kynkäänniemi)", "-^"),
            ("alpha_precision", "IPα", "--o"),
            ("knn_precision", "k-NN precision", "--^"),
        ):
            values, spread = [row[key] for row in rows], [row[f"{key}_std"] for row in rows]
            ax.errorbar(dropped, values, yerr=spread, fmt=style, capsize=3, label=label)
        ax.set_xlabel("classes dropped (of 10)")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"digits, {space} (n = {result['n']}, m = {result['m']})", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score")
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memorisation(results: dict[tuple[str, str], dict], path: Path) -> None:
    datasets = sorted({dataset for dataset, _ in results}, key=E.DATASETS.index)
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.2), layout="constrained", squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for (name, space), result in results.items():
            if name != dataset:
                continue
            rows, m = result["rows"], result["m"]
            share = [row["share"] for row in rows]
            color = "tab:red" if space == "raw" else "tab:purple"
            ax.plot(share, [row["authenticity"] for row in rows], "-o", color=color, label=f"A, {space}")
            ax.plot(share, [row["expected"] for row in rows], ":", color=color, label=f"A(0)·(1 − share), {space}")
            ax.plot(
                share, [row["alpha_precision"] for row in rows], "--", color=color, alpha=0.5, label=f"IPα, {space}"
            )
        ax.set_xlabel("share of noisy copies of training samples")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{dataset} (m = {m} synthetic samples)", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score")
    axes[0][0].legend(fontsize=8, loc="center right")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_noisy_copies(results: dict[tuple[str, str], dict], path: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.6), layout="constrained", sharex=True, sharey=True)
    for ax, ((dataset, space), result) in zip(axes.flat, results.items(), strict=True):
        rows = [row for row in result["rows"] if not math.isnan(row["sigma"])]
        held_out = next(row for row in result["rows"] if math.isnan(row["sigma"]))
        sigma = [row["sigma"] for row in rows]
        for key, label, color in (
            ("alpha_precision", "IPα", "tab:blue"),
            ("beta_recall", "IRβ", "tab:orange"),
            ("authenticity", "A", "tab:red"),
        ):
            ax.plot(sigma, [row[key] for row in rows], "-o", color=color, label=label)
            ax.axhline(held_out[key], color=color, linestyle=":", linewidth=1)
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_title(f"{dataset}, {space} space (dotted: held-out data)", fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("noise σ (× per-feature std) added to every training record")
    for ax in axes[:, 0]:
        ax.set_ylabel("score")
    axes[0][0].legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_failure_modes(results: dict[str, dict], path: Path) -> None:
    first = next(iter(results.values()))
    cases = list(E.FAILURE_MODES)
    fig, axes = plt.subplots(
        1 + len(results), len(cases), figsize=(3.1 * len(cases), 3.2 * (1 + len(results))), layout="constrained"
    )
    real = first["real"].numpy()
    for col, case in enumerate(cases):
        ax = axes[0][col]
        synthetic = first["synthetic"][case].numpy()
        ax.scatter(real[:, 0], real[:, 1], s=2, color="0.6", label="real")
        ax.scatter(synthetic[:, 0], synthetic[:, 1], s=2, color="tab:green", alpha=0.6, label="synthetic")
        ax.set_title(case, fontsize=11)
        ax.set_aspect("equal")
        ax.set_xlim(-8.5, 8.5)
        ax.set_ylim(-7.5, 8.5)
        ax.set_xticks([])
        ax.set_yticks([])
        for row, (space, result) in enumerate(results.items(), start=1):
            plot_curves(result["results"][case], ax=axes[row][col], title=f"{space} space")
            axes[row][col].legend(fontsize=6, loc="upper left")
    axes[0][0].legend(fontsize=8, markerscale=4, loc="lower left")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_perfect_generator(result: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.2, 4.0), layout="constrained")
    settings = dict.fromkeys((row["data"], row["n"]) for row in result["rows"])
    for data, n in settings:
        rows = [row for row in result["rows"] if (row["data"], row["n"]) == (data, n)]
        ax.errorbar(
            [row["k"] for row in rows],
            [row["beta_recall"] for row in rows],
            yerr=[row["beta_recall_std"] for row in rows],
            fmt="-o",
            capsize=3,
            label=f"{data}, n = m = {n}",
        )
    ax.axhline(0.5, color="0.5", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xticks([1, 3, 5, 10], labels=["1", "3", "5", "10"])
    ax.set_xlabel("k (β-recall neighbourhood)")
    ax.set_ylabel("IRβ of a perfect generator")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_embedding_epochs(result: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
    raw = next(row for row in result["rows"] if row["fit_on"] == "raw")
    for fit_on, style in (("reference", "-o"), ("disjoint", "--s")):
        rows = [row for row in result["rows"] if row["fit_on"] == fit_on]
        epochs = [row["epochs"] for row in rows]
        for key, label, color in (
            ("held_out_alpha_precision", "IPα held-out", "tab:blue"),
            ("held_out_beta_recall", "IRβ held-out", "tab:orange"),
            ("copies_alpha_precision", "IPα noisy copies", "tab:red"),
        ):
            ax.plot(epochs, [row[key] for row in rows], style, color=color, label=f"{label}, fit on {fit_on}")
    for key, color in (("held_out_alpha_precision", "tab:blue"), ("held_out_beta_recall", "tab:orange")):
        ax.axhline(raw[key], color=color, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("one-class embedding training epochs (dotted: raw space)")
    ax.set_ylabel("score")
    ax.set_ylim(0.4, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------

FULL = {
    "mode_dropping": {"repeats": 5},
    "memorisation": {},
    "noisy_copies": {},
    "failure_modes": {"n": 2000},
    "perfect_generator": {"repeats": 3},
    "embedding_epochs": {},
}
QUICK = {
    "mode_dropping": {"repeats": 1, "train_per_class": 30, "dropped": (0, 4, 8)},
    "memorisation": {"train_per_class": 40, "shares": (0.0, 0.5, 1.0)},
    "noisy_copies": {"train_per_class": 40, "sigmas": (0.0, 0.1, 1.0)},
    "failure_modes": {"n": 300},
    "perfect_generator": {"repeats": 1, "ns": (250,), "ks": (1, 5)},
    "embedding_epochs": {"epochs": (1, 5), "per_part": 150},
}


def run(sizes: dict, log: Callable[[str], None] = print) -> tuple[dict, dict[str, float]]:
    """Run every experiment in both spaces; returns (results, seconds per experiment)."""
    results: dict = {}
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> None:
        start = time.perf_counter()
        results[name] = fn()
        seconds[name] = time.perf_counter() - start
        log(f"  {name}: {seconds[name]:.1f} s")

    timed(
        "mode_dropping",
        lambda: {
            "raw": E.mode_dropping(space="raw", **sizes["mode_dropping"]),
            "one-class": E.mode_dropping(space="one-class", **sizes["mode_dropping"]),
            # an almost untrained network: does the insensitivity come from training?
            "one-class, 1 epoch": E.mode_dropping(space="one-class", epochs=1, **sizes["mode_dropping"]),
        },
    )
    timed(
        "memorisation",
        lambda: {
            (d, s): E.memorisation(dataset=d, space=s, **sizes["memorisation"]) for d in E.DATASETS for s in E.SPACES
        },
    )
    timed(
        "noisy_copies",
        lambda: {
            (d, s): E.noisy_copies(dataset=d, space=s, **sizes["noisy_copies"]) for d in E.DATASETS for s in E.SPACES
        },
    )
    timed("failure_modes", lambda: {s: E.failure_modes(space=s, **sizes["failure_modes"]) for s in E.SPACES})
    timed("perfect_generator", lambda: E.perfect_generator(**sizes["perfect_generator"]))
    timed("embedding_epochs", lambda: E.embedding_epochs(**sizes["embedding_epochs"]))
    return results, seconds


def tables(results: dict) -> dict[str, str]:
    """Every Markdown table of the report, by name."""
    out: dict[str, str] = {}
    knn: list[Column] = [("knn_precision", "k-NN precision", ".3f"), ("knn_recall", "k-NN recall", ".3f")]
    for space, result in results["mode_dropping"].items():
        columns = [("dropped", "classes dropped", "d"), ("kept_share", "kept share", ".1f"), *SCORES, *knn]
        out[f"mode_dropping_{space}"] = markdown_table(result["rows"], columns)
    for (dataset, space), result in results["memorisation"].items():
        columns = [
            ("share", "copied share", ".2f"),
            *SCORES,
            ("expected", "A(0)·(1 − share)", ".3f"),
            ("copies_closest", "copies nearer than NND₁", ".3f"),
        ]
        out[f"memorisation_{dataset}_{space}"] = markdown_table(result["rows"], columns)
    for (dataset, space), result in results["noisy_copies"].items():
        out[f"noisy_copies_{dataset}_{space}"] = markdown_table(result["rows"], [("label", "generator", "s"), *SCORES])
    for space, result in results["failure_modes"].items():
        columns = [
            ("case", "synthetic", "s"),
            *SCORES,
            ("alpha_area", "∫(P_α − α)", "+.3f"),
            ("beta_area", "∫(R_β − β)", "+.3f"),
        ]
        out[f"failure_modes_{space}"] = markdown_table(result["rows"], columns)
    rows = results["perfect_generator"]["rows"]
    settings = list(dict.fromkeys((row["data"], row["n"]) for row in rows))
    ks = sorted({row["k"] for row in rows})
    grid = []
    for k in ks:
        line: dict = {"k": k}
        for data, n in settings:
            row = next(r for r in rows if (r["data"], r["n"], r["k"]) == (data, n, k))
            line[f"{data}{n}"] = row["beta_recall"]
            line[f"{data}{n}_std"] = row["beta_recall_std"]
            line[f"{data}{n}_coverage"] = row["coverage"]
        grid.append(line)
    columns = [("k", "k", "d")]
    columns += [(f"{data}{n}", f"IRβ, {data} n = m = {n}", ".3f") for data, n in settings]
    columns += [(f"{data}{n}_coverage", f"R_β(1), {data} {n}", ".3f") for data, n in settings]
    out["perfect_generator"] = markdown_table(grid, columns)
    out["embedding_epochs"] = markdown_table(
        results["embedding_epochs"]["rows"],
        [
            ("epochs", "epochs", "d"),
            ("fit_on", "embedding fitted on", "s"),
            ("held_out_alpha_precision", "held-out IPα", ".3f"),
            ("held_out_beta_recall", "held-out IRβ", ".3f"),
            ("held_out_coverage", "held-out R_β(1)", ".3f"),
            ("held_out_r10", "held-out R_β(0.1)", ".3f"),
            ("held_out_authenticity", "held-out A", ".3f"),
            ("copies_alpha_precision", "copies IPα", ".3f"),
            ("copies_authenticity", "copies A", ".3f"),
        ],
    )
    return out


def figures(results: dict, images: Path) -> list[Path]:
    images.mkdir(parents=True, exist_ok=True)
    paths = {
        "mode_dropping": images / "validation_mode_dropping.png",
        "memorisation": images / "validation_memorisation.png",
        "noisy_copies": images / "validation_noisy_copies.png",
        "failure_modes": images / "validation_failure_modes.png",
        "perfect_generator": images / "validation_perfect_generator.png",
        "embedding_epochs": images / "validation_embedding_epochs.png",
    }
    plot_mode_dropping(results["mode_dropping"], paths["mode_dropping"])
    plot_memorisation(results["memorisation"], paths["memorisation"])
    plot_noisy_copies(results["noisy_copies"], paths["noisy_copies"])
    plot_failure_modes(results["failure_modes"], paths["failure_modes"])
    plot_perfect_generator(results["perfect_generator"], paths["perfect_generator"])
    plot_embedding_epochs(results["embedding_epochs"], paths["embedding_epochs"])
    return list(paths.values())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, written to --out (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="docs directory (default: docs/, or a temp dir)")
    parser.add_argument(
        "--cache", type=Path, default=None, help="reuse the results pickled at this path (written when absent)"
    )
    args = parser.parse_args(argv)
    if args.out is None:
        if args.quick:
            import tempfile

            args.out = Path(tempfile.mkdtemp(prefix="faithful-validation-"))
        else:
            args.out = ROOT / "docs"
    print(f"running the validation experiments ({'quick' if args.quick else 'full'} sizes) ...", flush=True)
    if args.cache is not None and args.cache.exists():
        results, seconds, total = pickle.loads(args.cache.read_bytes())
        print(f"  (results loaded from {args.cache})")
    else:
        start = time.perf_counter()
        results, seconds = run(QUICK if args.quick else FULL, log=lambda line: print(line, flush=True))
        total = time.perf_counter() - start
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps((results, seconds, total)))
    markdown = tables(results)
    for name, table in markdown.items():
        print(f"\n### {name}\n{table}")
    paths = figures(results, args.out / "images")
    from validation.report import render

    report = args.out / "validation.md"
    environment = (
        f"torch {torch.__version__}, Python {platform.python_version()}, {torch.get_num_threads()} CPU threads"
    )
    report.write_text(render(results, markdown, seconds, total, environment))
    print(f"\nwrote {report} and {len(paths)} figures under {args.out / 'images'} in {total:.0f} s")


if __name__ == "__main__":
    main()

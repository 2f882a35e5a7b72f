"""``faithful evaluate --report DIR``: the curves, two histograms and the three audit views as files.

The same evidence :class:`~faithful.callback.FaithfulnessMonitor` draws into TensorBoard (:mod:`faithful.views`),
for two files on disk. ``DIR`` receives:

- ``curves.png``: the α-precision and β-recall curves with the diagonal;
- ``distance_to_real.png`` and ``alpha_level.png``: histograms of the per-sample values of the generated samples;
- per view (``copies``, ``atypical``, ``missed``): ``<view>.png``, a labelled image grid, when the samples are
  images (``image_shape``); otherwise ``<view>.csv`` and ``<view>.md``, tables with every feature under its column
  name (copies: the generated row, then its nearest real row, side by side);
- ``report.md``: the scores and every view in one page.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import Tensor

from faithful.views import View, markdown_table, table, views

__all__ = ["write_report"]


def _save(figure: object, path: Path) -> None:
    import matplotlib.pyplot as plt

    try:
        figure.savefig(path, dpi=150)  # type: ignore[attr-defined]
    finally:
        plt.close(figure)  # type: ignore[arg-type]


def _fill(chosen: list[View], real: Tensor, synthetic: Tensor) -> None:
    for view in chosen:
        source = real if view.name == "missed" else synthetic
        view.samples = source[view.indices] if view.indices else None
        if view.neighbour_indices is not None:
            view.neighbours = real[view.neighbour_indices] if view.neighbour_indices else None


def write_report(
    directory: Path,
    result: Mapping[str, Tensor],
    real: Tensor,
    synthetic: Tensor,
    *,
    feature_names: Sequence[str] | None = None,
    image_shape: Sequence[int] | None = None,
    num_samples: int = 8,
) -> list[Path]:
    """Write the report into ``directory`` (created if missing); returns the written files.

    Args:
        directory: output directory.
        result: output of :func:`faithful.functional.alpha_precision_beta_recall_authenticity` with
            ``sample_level=True``.
        real: ``(n, ...)`` real samples as the user knows them (before any embedding), rows in ``result``'s order.
        synthetic: ``(m, ...)`` synthetic samples, likewise.
        feature_names: column names of the features (tables); ``None``: ``x0, x1, ...``.
        image_shape: ``(C, H, W)`` or ``(H, W)`` of one sample: the views become PNG grids.
        num_samples: rows per view.

    Example:
        >>> import tempfile, torch
        >>> from pathlib import Path
        >>> from faithful.functional import alpha_precision_beta_recall_authenticity
        >>> from faithful.report import write_report
        >>> real, synthetic = torch.randn(100, 3), torch.randn(80, 3)
        >>> result = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
        >>> with tempfile.TemporaryDirectory() as out:
        ...     sorted(path.name for path in write_report(Path(out), result, real, synthetic))[:4]
        ['alpha_level.png', 'atypical.csv', 'atypical.md', 'copies.csv']
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    from PIL import Image

    from faithful.plotting import as_images, plot_curves, plot_histogram, sample_grid

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    fig, _ = plot_curves(result)
    _save(fig, directory / "curves.png")
    written.append(directory / "curves.png")
    for key, label in (
        ("distance_to_real", "distance to the nearest real sample"),
        ("alpha_level", "α-level (smallest α whose α-support holds the sample)"),
    ):
        title = f"{key} of the {result[key].numel()} synthetic samples"
        fig, _ = plot_histogram(result[key], title=title, xlabel=label)
        _save(fig, directory / f"{key}.png")
        written.append(directory / f"{key}.png")

    chosen = views(result, num_samples)
    _fill(chosen, real, synthetic)
    page = [
        "# faithful report",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {key} | {float(result[key]):.6g} |" for key in ("alpha_precision", "beta_recall", "authenticity")),
        "",
        "![curves](curves.png) ![distance to real](distance_to_real.png) ![alpha level](alpha_level.png)",
        "",
    ]
    headers = {"copies": "generated | nearest real", "atypical": "generated", "missed": "real"}
    for view in chosen:
        page += [f"## {view.name}", "", f"{view.title[0].upper()}{view.title[1:]}.", ""]
        images = as_images(view.samples, image_shape) if image_shape is not None and view.samples is not None else None
        neighbours = (
            as_images(view.neighbours, image_shape) if image_shape is not None and view.neighbours is not None else None
        )
        if images is not None and (view.name != "copies" or neighbours is not None):
            grid = sample_grid(images, view.labels, headers[view.name], neighbours)
            Image.fromarray(grid).save(directory / f"{view.name}.png")
            written.append(directory / f"{view.name}.png")
            page += [f"![{view.name}]({view.name}.png)", ""]
            continue
        header, rows = table(view, feature_names=feature_names)
        path = directory / f"{view.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        markdown = markdown_table(header, rows) if rows else "(none)"
        (directory / f"{view.name}.md").write_text(markdown + "\n", encoding="utf-8")
        written += [path, directory / f"{view.name}.md"]
        page += [markdown, ""]
    (directory / "report.md").write_text("\n".join(page), encoding="utf-8")
    written.append(directory / "report.md")
    return written

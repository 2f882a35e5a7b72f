"""Drawing shared by the metric's ``plot()``, the callback and the command line: curves, histograms, sample grids."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["as_images", "grid_cell", "plot_curves", "plot_histogram", "sample_grid"]


def _interval(result: Mapping[str, Tensor], key: str) -> str:
    """`` [lower, upper]`` when the result holds the score's confidence bounds, else ``""``."""
    lower, upper = result.get(f"{key}_lower"), result.get(f"{key}_upper")
    if lower is None or upper is None:
        return ""
    return f" [{float(lower):.3f}, {float(upper):.3f}]"


def plot_curves(result: Mapping[str, Tensor], ax: Any = None, title: str | None = None) -> tuple[Any, Any]:
    """Draw the α-precision and β-recall curves with the diagonal (the ideal curve).

    Args:
        result: output of the metric's ``compute()`` or of the functional API: needs ``thresholds``,
            ``alpha_precision_curve`` and ``beta_recall_curve``; ``alpha_precision``, ``beta_recall``
            and ``authenticity`` go into the legend and title when present, each with its confidence
            interval ``[lower, upper]`` when ``<score>_lower`` and ``<score>_upper`` are present too.
        ax: a matplotlib ``Axes`` to draw into; ``None`` makes a new figure.
        title: figure title; ``None`` shows the authenticity when present.

    Returns:
        ``(fig, ax)``.

    Example:
        >>> import torch
        >>> from faithful.functional import alpha_precision_beta_recall_authenticity
        >>> from faithful.plotting import plot_curves
        >>> real, synthetic = torch.randn(200, 4), torch.randn(150, 4)
        >>> fig, ax = plot_curves(alpha_precision_beta_recall_authenticity(real, synthetic))
        >>> [line.get_label() for line in ax.get_lines()][:1]
        ['ideal (diagonal)']
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 4.2), layout="constrained")
    else:
        fig = ax.get_figure()
    grid = result["thresholds"].detach().cpu().numpy()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.55", linewidth=1, label="ideal (diagonal)")
    for key, symbol, color in (
        ("alpha_precision", "α", "tab:blue"),
        ("beta_recall", "β", "tab:orange"),
    ):
        name = {"α": "α-precision $P_α$", "β": "β-recall $R_β$"}[symbol]
        score = result.get(key)
        if score is not None:
            name += f" (I{'P' if symbol == 'α' else 'R'}{symbol} = {float(score):.3f}{_interval(result, key)})"
        curve = result[f"{key}_curve"].detach().cpu().numpy()
        ax.plot(grid, curve, color=color, linewidth=2, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("α, β")
    ax.set_ylabel("share of samples")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if title is None and result.get("authenticity") is not None:
        title = f"authenticity A = {float(result['authenticity']):.3f}{_interval(result, 'authenticity')}"
    if title:
        ax.set_title(title, fontsize=10)
    return fig, ax


# ------------------------------------------------------------------------------------------- sample grids

ToImage = Callable[[Tensor], Tensor]
_PAD, _HEADER, _LABEL_WIDTH = 4, 18, 300


def as_images(samples: Tensor, to_image: ToImage | Sequence[int] | None = None) -> Tensor | None:
    """``(N, C, H, W)`` float64 CPU images with C in {1, 3}, or ``None`` when the samples are not image-shaped.

    Args:
        samples: ``(N, ...)`` samples.
        to_image: a function of the samples returning ``(N, C, H, W)`` or ``(N, H, W)``, or a shape each sample is
            reshaped to (e.g. ``(1, 8, 8)`` for flattened 8x8 digits). ``None``: samples of shape ``(C, H, W)`` with
            C in {1, 3} or ``(H, W)`` are images as they are.

    Example:
        >>> import torch
        >>> from faithful.plotting import as_images
        >>> as_images(torch.zeros(5, 64), (1, 8, 8)).shape, as_images(torch.zeros(5, 64))
        (torch.Size([5, 1, 8, 8]), None)
    """
    if callable(to_image):
        images = to_image(samples)
    elif to_image is not None:
        images = samples.reshape(samples.shape[0], *to_image)
    else:
        images = samples
    if not isinstance(images, Tensor):
        return None
    if images.ndim == 3:
        images = images.unsqueeze(1)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        return None
    return images.detach().cpu().double()


def _scale(size: int) -> int:
    # Small images (8x8 digits) are enlarged by an integer factor so that a pixel stays a block of equal pixels.
    return max(1, math.ceil(48 / size))


def _text_panel(labels: Sequence[str], centers: Sequence[int], height: int, header: str) -> np.ndarray:
    """White ``(height, width, 3)`` uint8 panel with ``labels`` left-aligned at the given row centers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi, width = 100, _LABEL_WIDTH
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    figure.text(4 / width, 1 - (_HEADER // 2 + 2) / height, header, fontsize=8, va="center", weight="bold")
    for label, center in zip(labels, centers, strict=True):
        figure.text(4 / width, 1 - center / height, label, fontsize=7, va="center", family="monospace")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:height, :width, :3].copy()


def grid_cell(image_shape: Sequence[int], row: int, neighbour: bool = False) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of row ``row``'s cell (or its neighbour's) in :func:`sample_grid`'s output."""
    h, w = image_shape[-2:]
    factor = _scale(max(h, w))
    cell_h, cell_w = h * factor, w * factor
    top = _HEADER + _PAD + row * (cell_h + _PAD)
    return top, (2 * _PAD + cell_w if neighbour else _PAD), cell_h, cell_w


def sample_grid(images: Tensor, labels: Sequence[str], header: str, neighbours: Tensor | None = None) -> np.ndarray:
    """One labelled row per sample, with its neighbour (e.g. its nearest real sample) beside it: ``(H, W, 3)`` uint8.

    The values of ``images`` and ``neighbours`` are mapped linearly from their joint [min, max] to 0..255 and
    enlarged by an integer factor (to at least 48 pixels), so every cell shows its sample pixel for pixel;
    :func:`grid_cell` says where.

    Args:
        images: ``(N, C, H, W)`` with C in {1, 3} (see :func:`as_images`).
        labels: one text per row, drawn to the right of the row.
        header: a title above the rows.
        neighbours: ``(N, C, H, W)`` shown beside ``images`` row by row, after a grey bar; ``None``: one column.

    Example:
        >>> import torch
        >>> from faithful.plotting import sample_grid
        >>> generated, nearest = torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
        >>> sample_grid(generated, ["a", "b", "c"], "generated | nearest real", nearest).shape
        (178, 408, 3)
    """
    cells = images if neighbours is None else torch.cat([images, neighbours])
    lo, hi = (float(cells.min()), float(cells.max())) if cells.numel() else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    channels = images.shape[1]
    top0, _, cell_h, cell_w = grid_cell(images.shape, 0)
    factor = cell_h // images.shape[2]
    columns = 1 if neighbours is None else 2
    width = columns * cell_w + (columns + 1) * _PAD
    height = top0 + len(labels) * (cell_h + _PAD)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)

    def put(image: Tensor, top: int, left: int) -> None:
        pixels = torch.round((image.double() - lo) / span * 255).clamp(0, 255).to(torch.uint8)
        pixels = pixels.repeat_interleave(factor, dim=1).repeat_interleave(factor, dim=2)
        if channels == 1:
            pixels = pixels.expand(3, -1, -1)
        canvas[top : top + cell_h, left : left + cell_w] = pixels.permute(1, 2, 0).numpy()

    centers = []
    for row in range(len(labels)):
        top, left, _, _ = grid_cell(images.shape, row)
        put(images[row], top, left)
        if neighbours is not None:
            canvas[top : top + cell_h, left + cell_w : left + cell_w + _PAD] = 160  # grey bar inside a pair
            put(neighbours[row], *grid_cell(images.shape, row, neighbour=True)[:2])
        centers.append(top + cell_h // 2)
    return np.concatenate([canvas, _text_panel(labels, centers, height, header)], axis=1)


def plot_histogram(values: Tensor, ax: Any = None, title: str | None = None, xlabel: str = "") -> tuple[Any, Any]:
    """A histogram of the finite ``values`` (non-finite ones are counted in the title). Returns ``(fig, ax)``."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 3.4), layout="constrained")
    else:
        fig = ax.get_figure()
    data = values.detach().cpu().double()
    finite = data[torch.isfinite(data)].numpy()
    ax.hist(finite, bins=min(50, max(10, int(math.sqrt(max(len(finite), 1))))), color="tab:blue", alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.grid(alpha=0.3)
    other = int(data.numel() - len(finite))
    ax.set_title((title or "") + (f" ({other} not finite, not shown)" if other else ""), fontsize=9)
    return fig, ax

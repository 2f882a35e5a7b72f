"""Curve figures (matplotlib) for the metric's ``plot()``, the callback and the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

__all__ = ["plot_curves"]


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

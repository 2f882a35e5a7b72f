"""What :class:`~faithful.callback.FaithfulnessMonitor` draws into TensorBoard: curves and the audit views.

Only :class:`~lightning.pytorch.loggers.TensorBoardLogger` instances get images, histograms and text; other loggers
(CSV, none) get the scalars only, without error. Everything here runs on rank 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import lightning.pytorch as pl
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from faithful.plotting import as_images, sample_grid
from faithful.views import View, markdown_table, table

__all__ = ["audit_tags", "log_audit", "log_curves", "tensorboard_loggers"]

#: Feature values shown per sample in the text tables of non-image samples.
TABLE_FEATURES = 6


def tensorboard_loggers(trainer: pl.Trainer) -> list[TensorBoardLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]


def log_step(trainer: pl.Trainer) -> int:
    # The step Lightning files the epoch's scalars under (it counts batches, not optimizer steps, which
    # differ for e.g. GANs with two optimizers), so the images line up with them in TensorBoard.
    return int(getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", trainer.global_step))


def log_curves(trainer: pl.Trainer, result: Mapping[str, Tensor], tag: str) -> None:
    """Both curves and the diagonal as the image ``tag``."""
    loggers = tensorboard_loggers(trainer)
    if not loggers:
        return
    from matplotlib.figure import Figure

    from faithful.plotting import plot_curves

    for logger in loggers:
        # A bare Figure, not pyplot: no global figure registry to leak into, no GUI backend needed.
        figure = Figure(figsize=(4.8, 4.2), layout="constrained")
        plot_curves(
            result,
            ax=figure.add_subplot(),
            title=f"epoch {trainer.current_epoch}: A = {float(result['authenticity']):.3f}",
        )
        logger.experiment.add_figure(tag, figure, global_step=log_step(trainer), close=True)


def audit_tags(prefix: str) -> list[str]:
    """The tags of one audit: the three views and the two histograms."""
    return [f"{prefix}audit/{name}" for name in ("copies", "atypical", "missed")] + [
        f"{prefix}distance_to_real",
        f"{prefix}alpha_level",
    ]


def log_audit(
    trainer: pl.Trainer,
    scores: Mapping[str, Tensor],
    views: Sequence[View],
    prefix: str,
    to_image: Callable[[Tensor], Tensor] | Sequence[int] | None,
    image_shape: Sequence[int] | None,
) -> None:
    """Histograms of ``distance_to_real`` and ``alpha_level``, and each view as an image grid or a text table.

    ``image_shape``: the ``(C, H, W)`` of a sample as an image (``as_images``), or ``None`` for text tables. A tag
    keeps its kind from one evaluation to the next (an empty view is an image with a header only).
    """
    import torch

    step = log_step(trainer)
    distance = scores["distance_to_real"].detach().cpu().double()
    # α-levels beyond every real sample are inf: TensorBoard histograms need finite values, so they count at 1.
    alpha = scores["alpha_level"].detach().cpu().double().nan_to_num(posinf=1.0).clamp(max=1.0)
    headers = {"copies": "generated | nearest real", "atypical": "generated", "missed": "real"}
    for logger in tensorboard_loggers(trainer):
        experiment = logger.experiment
        experiment.add_histogram(f"{prefix}distance_to_real", distance, global_step=step)
        experiment.add_histogram(f"{prefix}alpha_level", alpha, global_step=step)
        for view in views:
            tag = f"{prefix}audit/{view.name}"
            if image_shape is not None:
                empty = torch.zeros(0, *image_shape, dtype=torch.float64)
                images = as_images(view.samples, to_image) if view.samples is not None else None
                neighbours = as_images(view.neighbours, to_image) if view.neighbours is not None else None
                header = headers[view.name]
                if images is None or (view.name == "copies" and neighbours is None):
                    images, neighbours = empty, None
                    header += " (samples not available)" if view.indices else " (none)"
                grid = sample_grid(images, view.labels if len(images) else [], header, neighbours)
                experiment.add_image(tag, grid, global_step=step, dataformats="HWC")
            else:
                header_row, rows = table(view, max_features=TABLE_FEATURES)
                text = f"{view.title}.\n\n" + (markdown_table(header_row, rows) if rows else "(none)")
                experiment.add_text(tag, text, global_step=step)

"""Printing the per-epoch table of the demo, and the combined score its checkpoint is chosen by.

This is application code (the demo is a program, not a library call), so it prints to stdout.
"""

from __future__ import annotations

import math
import sys
from typing import Any, TextIO

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override

__all__ = ["FaithfulnessTable"]

_COLUMNS = (("alpha_precision", "IPα"), ("beta_recall", "IRβ"), ("authenticity", "A"))


class FaithfulnessTable(Callback):
    """Print one row of IPα / IRβ / authenticity per validation epoch and log a combined score.

    Reads the values :class:`faithful.FaithfulnessMonitor` logged (``{prefix}alpha_precision``...) from
    ``trainer.callback_metrics``, so it must come *after* the monitor in the callback list. It logs
    ``{prefix}{score_name}`` = (IPα + IRβ) / 2, the fidelity/diversity balance, set to 0 when the
    authenticity is below ``min_authenticity`` (a checkpoint that copies its training data is never
    "best"): monitor it with ``ModelCheckpoint(monitor="val/faithfulness", mode="max")``.

    Args:
        prefix: the monitor's ``prefix``.
        score_name: name of the combined score (logged as ``prefix + score_name``).
        min_authenticity: authenticity below which the score is 0.
        stream: where the table goes (default: ``sys.stdout``).
    """

    def __init__(
        self,
        prefix: str = "val/",
        score_name: str = "faithfulness",
        min_authenticity: float = 0.0,
        stream: TextIO | None = None,
    ) -> None:
        if not 0.0 <= min_authenticity <= 1.0:
            raise ValueError(f"Expected argument `min_authenticity` to be in [0, 1], but got {min_authenticity!r}.")
        self.prefix = prefix
        self.score_name = score_name
        self.min_authenticity = min_authenticity
        self.stream = stream
        #: one dict per printed row: epoch, the three metrics and the score
        self.history: list[dict[str, float]] = []
        self._header_printed = False

    @property
    def score_key(self) -> str:
        return self.prefix + self.score_name

    def score(self, alpha_precision: float, beta_recall: float, authenticity: float) -> float:
        """The combined score of one evaluation."""
        if authenticity < self.min_authenticity:
            return 0.0
        return (alpha_precision + beta_recall) / 2.0

    @override
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        keys = [self.prefix + name for name, _ in _COLUMNS]
        if not all(key in metrics for key in keys):
            return  # the monitor skipped this epoch (every_n_epochs)
        values = [float(metrics[key]) for key in keys]
        score = self.score(*values)
        pl_module.log(self.score_key, torch.tensor(score, dtype=torch.float32))
        row = {"epoch": float(trainer.current_epoch), **dict(zip((n for n, _ in _COLUMNS), values, strict=True))}
        row[self.score_name] = score
        self.history.append(row)
        self._print_row(trainer.current_epoch, values, score)

    @rank_zero_only
    def _print_row(self, epoch: int, values: list[float], score: float) -> None:
        stream = self.stream or sys.stdout
        if not self._header_printed:
            header = f"{'epoch':>5}  " + "  ".join(f"{label:>6}" for _, label in _COLUMNS) + f"  {self.score_name:>12}"
            print(header, file=stream)
            print("-" * len(header), file=stream)
            self._header_printed = True
        cells = "  ".join("   nan" if math.isnan(v) else f"{v:6.3f}" for v in values)
        print(f"{epoch:>5}  {cells}  {score:12.3f}", file=stream, flush=True)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))

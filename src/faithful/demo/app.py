"""The main job: train a small GAN on 8x8 digits with the faithfulness metrics watching every epoch.

``faithful demo`` (or ``python -m faithful.demo``) runs :func:`main`; everything is configured by
LightningCLI from ``config.yaml`` next to this file, which any ``--config`` file or ``--section.key=value``
argument overrides.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from faithful.demo.data import DigitsDataModule
from faithful.demo.gan import DigitsGAN
from faithful.demo.table import FaithfulnessTable

__all__ = ["DEFAULT_CONFIG", "DemoCLI", "RunSummary", "main", "report", "run_cli"]

#: The demo's default configuration (package data, so it also exists after ``pip install``).
DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")


class DemoCLI(LightningCLI):
    """LightningCLI plus ``--num_threads`` (torch intra-op threads, set before anything is built).

    The demo's networks are tiny: their matrix products are faster on one thread than split over
    several, and far faster when other processes compete for the cores (spinning OpenMP threads).
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--num_threads",
            type=int | None,
            default=1,
            help="torch.set_num_threads before training; null keeps torch's default (all cores).",
        )

    def before_instantiate_classes(self) -> None:
        num_threads = self.config.get("num_threads")
        if num_threads is not None:
            if num_threads < 1:
                self.parser.error(f"Expected `num_threads` to be a positive integer or null, but got {num_threads}.")
            torch.set_num_threads(num_threads)


def run_cli(
    model_class: type[LightningModule] | Callable[..., LightningModule],
    datamodule_class: type[LightningDataModule] | Callable[..., LightningDataModule],
    default_config: Path | str,
    argv: list[str] | None,
    prog: str,
    description: str,
) -> DemoCLI:
    """Parse ``argv`` over ``default_config`` with LightningCLI and build model, data and trainer (no fit).

    A bad config (unknown key, wrong type) ends here with jsonargparse's message on stderr and
    ``SystemExit(2)``, before anything is trained.
    """
    if not Path(default_config).is_file():
        # jsonargparse skips missing default config files silently: the run would have no monitor or logger.
        raise FileNotFoundError(
            f"The default configuration {default_config} is missing from this installation; it is package data "
            "of faithful.demo: reinstall lightning-faithful (or copy configs/demo.yaml from the repository there)."
        )
    with warnings.catch_warnings():
        # `faithful demo ARGS` hands ARGS over explicitly while sys.argv also holds them: intended here.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return DemoCLI(
            model_class,
            datamodule_class,
            args=argv,
            run=False,
            auto_configure_optimizers=False,  # the models build their own (two, for the GANs)
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"default_config_files": [str(default_config)], "prog": prog, "description": description},
        )


class RunSummary(dict[str, Any]):
    """What a demo run produced: ``log_dir``, ``best_model_path``, ``best_epoch``, ``best_score``,
    ``monitor``, ``history`` (the table's rows) and ``seconds``."""


def _find(trainer: Trainer, kind: type) -> Any:
    return next((callback for callback in trainer.callbacks if isinstance(callback, kind)), None)  # type: ignore[attr-defined]


def report(trainer: Trainer, seconds: float) -> RunSummary:
    """Print where the run went (logs, best checkpoint, how to open TensorBoard) and return it."""
    table = _find(trainer, FaithfulnessTable)
    checkpoint = _find(trainer, ModelCheckpoint)
    summary = RunSummary(
        log_dir=trainer.log_dir,
        history=list(table.history) if table is not None else [],
        seconds=seconds,
        best_model_path=None,
        best_epoch=None,
        best_score=None,
        monitor=None,
    )
    if checkpoint is not None and checkpoint.best_model_path:
        best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)
        summary.update(
            best_model_path=checkpoint.best_model_path,
            best_epoch=int(best["epoch"]),
            best_score=None if checkpoint.best_model_score is None else float(checkpoint.best_model_score),
            monitor=checkpoint.monitor,
        )
    if trainer.global_rank != 0:
        return summary

    print(f"\nFinished {trainer.current_epoch} epochs in {seconds:.0f} s.")
    if summary["best_epoch"] is not None:
        row = next((r for r in summary["history"] if int(r["epoch"]) == summary["best_epoch"]), None)
        scores = (
            ""
            if row is None
            else (
                f": IPα = {row['alpha_precision']:.3f}, IRβ = {row['beta_recall']:.3f}, A = {row['authenticity']:.3f}"
            )
        )
        print(f"Best by {summary['monitor']} = {summary['best_score']:.3f}: epoch {summary['best_epoch']}{scores}")
        print(f"  best checkpoint:  {summary['best_model_path']}")
    if summary["log_dir"] is not None:
        print(f"  logs and curves:  {summary['log_dir']}")
        logger = trainer.logger
        root = getattr(logger, "root_dir", None) or getattr(logger, "save_dir", None) or summary["log_dir"]
        print(f"  view them with:   tensorboard --logdir {root}   (then open http://localhost:6006)")
    return summary


def fit_and_report(cli: LightningCLI) -> RunSummary:
    """``trainer.fit`` the CLI's model on its data module, then :func:`report`."""
    start = time.perf_counter()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return report(cli.trainer, time.perf_counter() - start)


def run(argv: list[str] | None = None) -> RunSummary:
    """Run the demo with ``argv`` (``None``: ``sys.argv[1:]``) and return its :class:`RunSummary`."""
    threads = torch.get_num_threads()
    try:
        cli = run_cli(
            DigitsGAN,
            DigitsDataModule,
            DEFAULT_CONFIG,
            argv,
            prog="faithful demo",
            description="Train a small GAN on scikit-learn's 8x8 digits and watch IPα, IRβ and authenticity.",
        )
        return fit_and_report(cli)
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``faithful demo`` / ``python -m faithful.demo``; returns the exit code."""
    run(argv)
    return 0

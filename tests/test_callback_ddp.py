"""FaithfulnessMonitor under DDP (2 CPU processes, gloo): the values of one process, no duplicated real samples."""

from __future__ import annotations

import csv
import json
import math
from datetime import timedelta
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.strategies import DDPStrategy
from torch.utils.data import DataLoader, TensorDataset

from faithful.callback import FaithfulnessMonitor
from tests.test_callback import DIM, KEYS, NAMES, NoiseGenerator, make_real

pytestmark = pytest.mark.ddp

WORLD_SIZE = 2
# Odd: DistributedSampler pads rank 1's shard with a copy of sample 0. That copy must not reach the reference.
REAL = make_real(201, seed=5)


class Record(pl.Callback):
    """Runs after the monitor: writes the metric's *gathered* real count and the monitor's values, per rank."""

    def __init__(self, monitor: FaithfulnessMonitor, out: str) -> None:
        self.monitor = monitor
        self.out = out

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        metric = self.monitor.metric
        metric.update(torch.zeros(3, DIM), real=False)
        gathered_real = metric.sample_scores()["covered"].numel()  # one flag per gathered real sample
        metric.reset()
        entry = {
            "world_size": trainer.world_size,
            "gathered_real": gathered_real,
            "nonfinite": self.monitor.last_num_nonfinite,
            **self.monitor.history[-1],
        }
        with open(f"{self.out}.{trainer.global_rank}", "a") as f:
            f.write(json.dumps(entry) + "\n")


class DestroyProcessGroup(pl.Callback):
    """Ends each spawned process's gloo process group when training is over.

    Lightning leaves it alive until the interpreter exits, and there, on some hosts, gloo's threads abort the
    process now and then ("terminate called without an active exception", SIGABRT: 2 runs in 8 on this project's
    AMD host, with or without this change's code), which the spawn launcher reports as a failure.
    """

    def teardown(self, trainer, pl_module, stage):
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _run(tmp_path: Path, name: str, **trainer_kwargs) -> tuple[Path, Path]:
    out = tmp_path / f"{name}.jsonl"
    monitor = FaithfulnessMonitor(batch_size=50)
    # Rank 0 fits the one-class embedding and broadcasts it: the same instrument as in one process.
    one_class = FaithfulnessMonitor(batch_size=50, embedding="one-class", fit_kwargs={"epochs": 3}, prefix="oc/")
    module = NoiseGenerator(offsets=(0.6, 0.3, 0.0), nonfinite={1: 3})
    train = DataLoader(TensorDataset(REAL), batch_size=40, shuffle=True)
    val = DataLoader(TensorDataset(REAL[:40]), batch_size=40)
    logger = CSVLogger(str(tmp_path), name=name, version=0)
    pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=logger,
        callbacks=[monitor, one_class, Record(monitor, str(out)), DestroyProcessGroup()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
        **trainer_kwargs,
    ).fit(module, train, val)
    return out, Path(logger.log_dir) / "metrics.csv"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _csv_values(path: Path, names: tuple[str, ...]) -> list[tuple[float, ...]]:
    with open(path) as f:
        return [tuple(float(row[name]) for name in names) for row in csv.DictReader(f) if row.get(names[0])]


def test_two_processes_log_what_one_process_logs(tmp_path):
    single_out, single_csv = _run(tmp_path, "single", devices=1)
    ddp_out, ddp_csv = _run(
        tmp_path,
        "ddp",
        devices=WORLD_SIZE,
        strategy=DDPStrategy(start_method="spawn", process_group_backend="gloo", timeout=timedelta(seconds=120)),
    )
    single = _read(Path(f"{single_out}.0"))
    ranks = [_read(Path(f"{ddp_out}.{rank}")) for rank in range(WORLD_SIZE)]
    assert [entry["world_size"] for entry in ranks[0]] == [WORLD_SIZE] * 3

    for rank_entries in ranks:
        assert [entry["epoch"] for entry in rank_entries] == [0, 1, 2]
        # Every real sample exactly once: no DistributedSampler padding in the reference.
        assert all(entry["gathered_real"] == len(REAL) for entry in rank_entries)
        # The non-finite count is summed over processes: 5 batches of <= 50 samples, 3 bad rows each (1 in the last).
        assert [entry["nonfinite"] for entry in rank_entries] == [0, 13, 0]
        for entry, expected in zip(rank_entries, single, strict=True):
            for key in KEYS:
                if math.isnan(expected[key]):
                    assert math.isnan(entry[key])
                else:
                    assert entry[key] == pytest.approx(expected[key], abs=1e-6), (entry["epoch"], key)
    assert single[0]["gathered_real"] == len(REAL) and single[1]["nonfinite"] == 13

    # What the logger (rank 0) wrote matches too, also for the one-class monitor.
    for names in (NAMES, tuple(f"oc/{key}" for key in KEYS)):
        single_rows, ddp_rows = _csv_values(single_csv, names), _csv_values(ddp_csv, names)
        assert len(single_rows) == len(ddp_rows) == 3
        for row, expected in zip(ddp_rows, single_rows, strict=True):
            for value, reference in zip(row, expected, strict=True):
                assert (math.isnan(value) and math.isnan(reference)) or value == pytest.approx(reference, abs=1e-6)

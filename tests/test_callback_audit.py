"""FaithfulnessMonitor's audit views (issue 13), its bounded reference read and the no-validation-loop mode (issue 12).

The event files are read back with tensorboard's EventAccumulator; expected rows come from the functional API on the
same real and generated sets (the generated set is rebuilt from the monitor's per-batch seeds).
"""

from __future__ import annotations

import gc
import io
import math
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from faithful.callback import FaithfulnessMonitor
from faithful.callback.sampling import batch_seed
from faithful.functional import alpha_precision_beta_recall_authenticity
from faithful.plotting import grid_cell
from tests.test_callback import REAL, NoiseGenerator, loaders, trainer

SHAPE = (1, 6, 6)


def binary_images(n: int, seed: int) -> Tensor:
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) < 0.5).float()


IMAGES = binary_images(120, 0)


class CopyingGenerator(NoiseGenerator):
    """Binary images: a third exact copies of training images 0..79, a third with 3 flipped pixels, a third new."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        source = IMAGES[torch.randint(80, (n,), generator=generator)].clone()  # images 80+ are never copied
        kind = torch.randint(3, (n,), generator=generator)
        flips = torch.rand(n, math.prod(SHAPE), generator=generator).argsort(dim=1)[:, :3]
        fresh = (torch.rand(n, *SHAPE, generator=generator) < 0.5).float()
        flat = source.reshape(n, -1)
        for row in torch.nonzero(kind == 1).flatten().tolist():
            flat[row, flips[row]] = 1 - flat[row, flips[row]]
        return torch.where((kind == 2).reshape(n, 1, 1, 1), fresh, source)


def generated_set(module: pl.LightningModule, total: int, batch_size: int, seed: int = 0) -> Tensor:
    """The monitor's generated set, rebuilt from its per-batch seeds (batch i: seed (seed, i))."""
    batches = []
    for index, start in enumerate(range(0, total, batch_size)):
        generator = torch.Generator().manual_seed(batch_seed(seed, index))
        batches.append(module.sample(min(batch_size, total - start), generator=generator))
    return torch.cat(batches)


def accumulator(logger: TensorBoardLogger):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    events.Reload()
    return events


def png(event) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))


def cell(grid: np.ndarray, row: int, neighbour: bool = False) -> np.ndarray:
    top, left, height, width = grid_cell(SHAPE, row, neighbour)
    block = grid[top : top + height, left : left + width, 0]
    factor = height // SHAPE[1]
    # Every enlarged pixel is a uniform block: read one value per block and check the block is uniform.
    pixels = block[::factor, ::factor]
    assert np.array_equal(np.repeat(np.repeat(pixels, factor, 0), factor, 1), block)
    return pixels


def text_tables(events, tag: str) -> list[str]:
    # SummaryWriter.add_text files text under "<tag>/text_summary".
    return [event.tensor_proto.string_val[0].decode() for event in events.Tensors(f"{tag}/text_summary")]


# --------------------------------------------------------------------------------------------- audit views


def test_image_views_show_each_copy_beside_its_nearest_training_image(tmp_path):
    logger = TensorBoardLogger(str(tmp_path), name="tb")
    monitor = FaithfulnessMonitor(num_samples=100, batch_size=32, num_audit_samples=6)
    train = DataLoader(TensorDataset(IMAGES), batch_size=25, shuffle=True)
    module = CopyingGenerator(shape=SHAPE)
    trainer(tmp_path, logger=logger, max_epochs=2, callbacks=[monitor]).fit(module, train, train)

    synthetic = generated_set(module, 100, 32)
    expected = alpha_precision_beta_recall_authenticity(IMAGES.flatten(1), synthetic.flatten(1), sample_level=True)
    ratio = (
        expected["distance_to_real"].double()
        / expected["real_nearest_neighbor_distance"].double()[expected["nearest_real_index"]]
    )
    ratio = torch.where(expected["distance_to_real"] == 0, 0.0, ratio)
    copies = monitor.last_audit["copies"]
    assert copies == torch.sort(ratio, stable=True).indices[:6].tolist()  # least authentic first
    assert ratio[copies].tolist() == sorted(ratio[copies].tolist())
    assert (
        monitor.last_audit["atypical"]
        == torch.sort(expected["alpha_level"], descending=True, stable=True).indices[:6].tolist()
    )
    uncovered = torch.nonzero(~expected["covered"]).flatten()
    far = uncovered[torch.sort(expected["distance_to_synthetic"][uncovered], descending=True, stable=True).indices]
    assert monitor.last_audit["missed"] == far[:6].tolist() and len(far) > 0

    events = accumulator(logger)
    for tag in ("val/audit/copies", "val/audit/atypical", "val/audit/missed"):
        assert len(events.Images(tag)) == 2, tag  # at each evaluation
    for tag in ("val/distance_to_real", "val/alpha_level"):
        assert len(events.Histograms(tag)) == 2, tag
        assert events.Histograms(tag)[-1].histogram_value.num == 100

    grid = png(events.Images("val/audit/copies")[-1])
    nearest = expected["nearest_real_index"]
    for row, j in enumerate(copies):
        assert np.array_equal(cell(grid, row), (synthetic[j, 0] * 255).numpy().astype(np.uint8))
        shown_real = cell(grid, row, neighbour=True)
        assert np.array_equal(shown_real, (IMAGES[nearest[j], 0] * 255).numpy().astype(np.uint8)), row
        others = [i for i in range(len(IMAGES)) if not torch.equal(IMAGES[i], IMAGES[nearest[j]])]
        assert not any(np.array_equal(shown_real, (IMAGES[i, 0] * 255).numpy().astype(np.uint8)) for i in others)
    grid = png(events.Images("val/audit/missed")[-1])
    for row, i in enumerate(monitor.last_audit["missed"]):
        assert np.array_equal(cell(grid, row), (IMAGES[i, 0] * 255).numpy().astype(np.uint8))


def test_vector_samples_give_text_tables_in_order(tmp_path):
    logger = TensorBoardLogger(str(tmp_path), name="tb")
    synthetic = torch.cat([REAL[:5] + 1e-3, REAL[5:150] * 1.5 + 0.2])
    monitor = FaithfulnessMonitor(sample_fn=lambda module, n, generator: synthetic[:n].clone(), num_samples=150)
    trainer(tmp_path, logger=logger, max_epochs=2, callbacks=[monitor]).fit(NoiseGenerator(), *loaders())
    expected = alpha_precision_beta_recall_authenticity(REAL, synthetic, sample_level=True)

    events = accumulator(logger)
    for tag in ("val/audit/copies", "val/audit/atypical", "val/audit/missed"):
        assert len(text_tables(events, tag)) == 2, tag
    assert not events.Tags()["images"] or "val/audit/copies" not in events.Tags()["images"]
    copies = text_tables(events, "val/audit/copies")[-1]
    lines = [line for line in copies.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:3] == ["rank", "synthetic_index", "relative_distance"]
    assert "generated:x0" in header and "real:x0" in header and "nearest_real_index" in header
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]
    shown = [int(row[1]) for row in rows]
    assert sorted(shown[:5]) == [0, 1, 2, 3, 4]  # the five near-copies come first
    ratios = [float(row[2]) for row in rows]
    assert ratios == sorted(ratios) and max(ratios[:5]) < 0.01 < ratios[5]
    for row in rows:  # the real row beside is the nearest real sample
        j, i = int(row[1]), int(row[header.index("nearest_real_index")])
        assert i == int(expected["nearest_real_index"][j])
        assert float(row[header.index("real:x0")]) == pytest.approx(float(REAL[i, 0]), rel=1e-5)
        assert float(row[header.index("generated:x0")]) == pytest.approx(float(synthetic[j, 0]), rel=1e-5)
    atypical = text_tables(events, "val/audit/atypical")[-1]
    levels = [float(line.split("|")[3]) for line in atypical.splitlines()[3:] if line.startswith("| ")]
    assert levels == sorted(levels, reverse=True)
    assert levels[0] == pytest.approx(float(expected["alpha_level"].max()))


def test_audit_knobs_thin_out_and_turn_off(tmp_path):
    logger = TensorBoardLogger(str(tmp_path), name="every2")
    trainer(tmp_path, logger=logger, max_epochs=3, callbacks=[FaithfulnessMonitor(audit_every_n_evaluations=2)]).fit(
        NoiseGenerator(), *loaders()
    )
    events = accumulator(logger)
    assert [event.step for event in events.Histograms("val/alpha_level")] == [
        event.step for event in events.Scalars("val/alpha_precision")
    ][::2]
    logger = TensorBoardLogger(str(tmp_path), name="off")
    monitor = FaithfulnessMonitor(audit_every_n_evaluations=0)
    trainer(tmp_path, logger=logger, max_epochs=1, callbacks=[monitor]).fit(NoiseGenerator(), *loaders())
    events = accumulator(logger)
    assert not events.Tags()["histograms"] and not events.Tags()["tensors"] and monitor.last_audit == {}
    assert len(events.Scalars("val/authenticity")) == 1
    with pytest.raises(ValueError, match="`audit_every_n_evaluations` to be a non-negative integer"):
        FaithfulnessMonitor(audit_every_n_evaluations=-1)
    with pytest.raises(ValueError, match="`num_audit_samples` to be a positive integer"):
        FaithfulnessMonitor(num_audit_samples=0)
    with pytest.raises(ValueError, match=r"`image_shape` to be None, \(H, W\) or \(C, H, W\)"):
        FaithfulnessMonitor(image_shape=(2, 4, 4))
    with pytest.raises(TypeError, match="`to_image` to be None or callable"):
        FaithfulnessMonitor(to_image=3)


def _held_bytes(root: object) -> int:
    """Bytes of every tensor reachable from ``root`` (shared storages counted once)."""
    seen: set[int] = set()
    storages: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (type, str, bytes, int, float)):
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            storage = obj.untyped_storage()
            if storage.data_ptr() not in storages:
                storages.add(storage.data_ptr())
                total += storage.nbytes()
            continue
        if isinstance(obj, (pl.Trainer, pl.LightningModule)):
            continue
        stack.extend(gc.get_referents(obj))
    return total


def test_memory_held_between_evaluations_does_not_grow_with_the_raw_samples(tmp_path):
    images = torch.rand(200, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    data = DataLoader(TensorDataset(images), batch_size=50)
    embedding = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4))
    held = {}
    for num_samples in (100, 2000):
        monitor = FaithfulnessMonitor(embedding=embedding, num_samples=num_samples, batch_size=100)
        logger = TensorBoardLogger(str(tmp_path), name=f"m{num_samples}")
        trainer(tmp_path, logger=logger, max_epochs=1, callbacks=[monitor]).fit(
            NoiseGenerator(shape=(3, 16, 16)), data, data
        )
        assert len(monitor.last_audit["copies"]) == 8
        gc.collect()
        held[num_samples] = _held_bytes(monitor)
    # 1,900 more generated images would be 1,900 x 3 KiB = 5.8 MB if kept; nothing of their size is.
    assert held[2000] == held[100]
    assert held[100] < images.nelement() * 4 + 200 * 4 * 4 * 8 + 100_000


# ------------------------------------------------------------------------------------- bounded reference read


class Endless(IterableDataset):
    """An endless stream that fails (instead of hanging) after ``limit`` items."""

    def __init__(self, limit: int = 5_000) -> None:
        self.limit = limit
        self.served = 0

    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        while True:
            self.served += 1
            if self.served > self.limit:
                raise RuntimeError(f"read {self.served} items of an endless stream: the read is not bounded")
            yield (torch.randn(4, generator=generator),)


class Counting(Dataset):
    def __init__(self, data: Tensor) -> None:
        self.data, self.reads = data, 0

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Tensor]:
        self.reads += 1
        return (self.data[index],)


def test_the_reference_read_is_bounded(tmp_path):
    stream = Endless()
    monitor = FaithfulnessMonitor(real=DataLoader(stream, batch_size=32), max_real_samples=100)
    trainer(tmp_path, max_epochs=1, callbacks=[monitor]).fit(NoiseGenerator(), *loaders())
    assert monitor.num_real == 100 and stream.served <= 128  # the first 100 samples, 4 batches read

    # Training on the endless stream itself: limit_train_batches bounds the epoch and the read.
    stream = Endless()
    monitor = FaithfulnessMonitor()
    run = trainer(tmp_path, max_epochs=1, limit_train_batches=3, callbacks=[monitor])
    run.fit(NoiseGenerator(), DataLoader(stream, batch_size=20), loaders()[1])
    # The reference read (3 batches) and the training epoch (3 batches, and one fetched ahead by Lightning).
    assert monitor.num_real == 60 and stream.served <= 3 * 20 + 4 * 20 + 1

    with pytest.raises(MisconfigurationException, match=r"without `__len__`.*max_real_samples=N.*limit_train_batches"):
        trainer(tmp_path, max_epochs=1, callbacks=[FaithfulnessMonitor(real=DataLoader(Endless(), batch_size=8))]).fit(
            NoiseGenerator(), *loaders()
        )

    # A map-style dataset: only the seeded subset is read (no audit here: logger=False).
    counting = Counting(REAL)
    capped = FaithfulnessMonitor(real=DataLoader(counting, batch_size=16), max_real_samples=50)
    trainer(tmp_path, max_epochs=1, callbacks=[capped]).fit(NoiseGenerator(), *loaders())
    assert capped.num_real == 50 and counting.reads == 50
    keep = torch.randperm(len(REAL), generator=torch.Generator().manual_seed(0))[:50].sort().values
    assert torch.equal(capped.metric.real_features[0], REAL[keep])


def test_stream_reference_audit_views_use_features_or_a_copy(tmp_path):
    # A stream has no index: the identity embedding's features are the samples; another embedding keeps a copy.
    data = REAL[:96]
    for embedding, source in ((None, "features"), (nn.Linear(4, 3), "copy")):
        logger = TensorBoardLogger(str(tmp_path), name=source)
        monitor = FaithfulnessMonitor(real=[(batch,) for batch in data.split(32)], embedding=embedding, num_samples=64)
        trainer(tmp_path, logger=logger, max_epochs=1, callbacks=[monitor]).fit(NoiseGenerator(), *loaders())
        assert monitor._real_rows is not None and monitor._real_rows.source == source
        table = text_tables(accumulator(logger), "val/audit/missed")[-1]
        row = next(line for line in table.splitlines()[3:] if line.startswith("| 0 "))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[3]) == pytest.approx(float(data[int(cells[1]), 0]), rel=1e-5)


# ----------------------------------------------------------------------------------- no validation loop


class NoValidationLoop(NoiseGenerator):
    validation_step = pl.LightningModule.validation_step  # like Lightning's GAN example: no validation at all


def test_without_a_validation_loop_the_monitor_evaluates_at_the_end_of_training_epochs(tmp_path):
    module = NoValidationLoop(offsets=(1.5, 0.75, 0.0, 0.75, 1.5))
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val/alpha_precision", mode="max")
    stopper = EarlyStopping(monitor="val/alpha_precision", mode="max", patience=1)
    monitor = FaithfulnessMonitor()
    run = trainer(tmp_path, max_epochs=5, callbacks=[stopper, monitor, checkpoint], enable_checkpointing=True)
    run.fit(module, loaders()[0])
    assert monitor.evaluates_on == "train"
    precision = [entry["alpha_precision"] for entry in monitor.history]
    assert [entry["epoch"] for entry in monitor.history] == [0, 1, 2, 3]  # stopped after one worse epoch
    assert precision[2] == max(precision)
    assert stopper.stopped_epoch == 3 and "epoch=2" in Path(checkpoint.best_model_path).name
    assert {"val/alpha_precision", "val/beta_recall", "val/authenticity"} <= set(run.callback_metrics)


def test_a_validation_step_without_validation_data_is_an_error(tmp_path):
    with pytest.raises(MisconfigurationException, match=r"has a `validation_step` and the Trainer has no validation"):
        trainer(tmp_path, max_epochs=1, callbacks=[FaithfulnessMonitor()]).fit(NoiseGenerator(), loaders()[0])
    with pytest.raises(MisconfigurationException, match=r"`limit_val_batches=0`"):
        trainer(tmp_path, max_epochs=1, limit_val_batches=0, callbacks=[FaithfulnessMonitor()]).fit(
            NoiseGenerator(), *loaders()
        )
    with pytest.raises(MisconfigurationException, match=r"real='val'.*no `validation_step`"):
        trainer(tmp_path, max_epochs=1, callbacks=[FaithfulnessMonitor(real="val")]).fit(
            NoValidationLoop(), loaders()[0]
        )

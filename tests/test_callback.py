"""FaithfulnessMonitor in real (tiny, CPU) Trainer runs: logging, checkpointing, early stopping, resume, errors."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from faithful.callback import FaithfulnessMonitor
from faithful.functional import INTERVAL_KEYS, alpha_precision_beta_recall_authenticity

KEYS = ("alpha_precision", "beta_recall", "authenticity")
NAMES = tuple(f"val/{key}" for key in KEYS)
DIM = 4


def make_real(n: int = 200, seed: int = 0) -> Tensor:
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed))


REAL = make_real()


class NoiseGenerator(pl.LightningModule):
    """A deterministic toy generator: Gaussian noise plus an offset that follows a schedule over epochs.

    ``follow_weight`` adds a trained parameter (SGD pulls it to the data mean, so resumed runs must reproduce it);
    ``memorise_from``: from that epoch on, return training samples plus 1e-4 noise; ``nonfinite``: epoch -> number
    of leading rows of every ``sample`` call set to NaN/inf.
    """

    def __init__(
        self,
        offsets: tuple[float, ...] = (0.0,),
        follow_weight: bool = False,
        memorise_from: int | None = None,
        train_data: Tensor | None = None,
        nonfinite: dict[int, int] | None = None,
        shape: tuple[int, ...] = (DIM,),
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(math.prod(shape)))
        self.offsets = offsets
        self.follow_weight = follow_weight
        self.memorise_from = memorise_from
        self.train_data = train_data
        self.nonfinite = nonfinite or {}
        self.shape = shape

    def training_step(self, batch, batch_idx):
        return (batch[0].flatten(1) - self.weight).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        epoch = self.current_epoch
        x = torch.randn(n, math.prod(self.shape), generator=generator, device=self.device)
        x = x + self.offsets[min(epoch, len(self.offsets) - 1)]
        if self.follow_weight:
            x = x + self.weight
        if self.memorise_from is not None and epoch >= self.memorise_from:
            assert self.train_data is not None
            index = torch.randint(len(self.train_data), (n,), generator=generator)
            x = self.train_data[index] + 1e-4 * torch.randn(n, DIM, generator=generator)
        bad = self.nonfinite.get(epoch, 0)
        if bad:
            x[:bad] = float("nan")
            x[0, 0] = float("inf")
        return x.reshape(n, *self.shape)


def loaders(real: Tensor = REAL, batch_size: int = 50, shuffle: bool = True) -> tuple[DataLoader, DataLoader]:
    train = DataLoader(TensorDataset(real), batch_size=batch_size, shuffle=shuffle)
    val = DataLoader(TensorDataset(real[:batch_size]), batch_size=batch_size)
    return train, val


def trainer(tmp_path: Path | None = None, **kwargs) -> pl.Trainer:
    defaults = dict(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(tmp_path) if tmp_path is not None else None,
    )
    defaults.update(kwargs)
    return pl.Trainer(**defaults)


def values(monitor: FaithfulnessMonitor) -> list[tuple[float, ...]]:
    return [tuple(float(entry[key]) for key in KEYS) for entry in monitor.history]


# ------------------------------------------------------------------------------------------------- logging


def test_values_match_the_functional_api_and_reach_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    synthetic = make_real(150, seed=1) + 0.3
    monitor = FaithfulnessMonitor(sample_fn=lambda module, n, generator: synthetic[:n].clone(), num_samples=150)
    logger = TensorBoardLogger(str(tmp_path), name="tb")
    run = trainer(tmp_path, logger=logger, max_epochs=2, num_sanity_val_steps=2, callbacks=[monitor])
    run.fit(NoiseGenerator(), *loaders())  # a shuffled train loader: the reference is read in dataset order

    expected = alpha_precision_beta_recall_authenticity(REAL, synthetic)
    assert monitor.num_real == len(REAL)
    assert [entry["epoch"] for entry in monitor.history] == [0, 1]  # not during the sanity check
    for name, key in zip(NAMES, KEYS, strict=True):
        logged = run.callback_metrics[name]
        assert logged.ndim == 0
        assert logged.item() == pytest.approx(expected[key].item(), abs=1e-6)

    accumulator = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    for name, key in zip(NAMES, KEYS, strict=True):
        events = accumulator.Scalars(name)
        assert len(events) == 2
        assert [event.value for event in events] == pytest.approx([expected[key].item()] * 2, abs=1e-6)
    images = accumulator.Images("val/curves")
    assert len(images) == 2
    assert [image.step for image in images] == [event.step for event in accumulator.Scalars(NAMES[0])]
    assert images[0].encoded_image_string[:4] == b"\x89PNG" and images[0].width > 100
    assert set(monitor.last_timings) == {"generation", "embedding", "metric", "total", "audit"}
    assert all(seconds >= 0 for seconds in monitor.last_timings.values())


def test_confidence_bounds_are_logged_beside_the_scores(tmp_path):
    synthetic = make_real(150, seed=1) + 0.3
    monitor = FaithfulnessMonitor(
        sample_fn=lambda module, n, generator: synthetic[:n].clone(),
        num_samples=150,
        confidence_level=0.9,
        num_resamples=20,
        audit_every_n_evaluations=0,
    )
    run = trainer(tmp_path, max_epochs=1, callbacks=[monitor])
    run.fit(NoiseGenerator(), *loaders())
    expected = alpha_precision_beta_recall_authenticity(
        REAL, synthetic, confidence_level=0.9, num_resamples=20, seed=monitor.seed
    )
    for key in INTERVAL_KEYS:
        assert run.callback_metrics[f"val/{key}"].item() == pytest.approx(expected[key].item(), abs=1e-6), key
        assert monitor.history[0][key] == pytest.approx(expected[key].item(), abs=1e-6)
    for key in KEYS:
        lower, upper = run.callback_metrics[f"val/{key}_lower"], run.callback_metrics[f"val/{key}_upper"]
        assert lower.item() <= run.callback_metrics[f"val/{key}"].item() <= upper.item()
    with pytest.raises(ValueError, match="`confidence_level` to be a number strictly between 0 and 1"):
        FaithfulnessMonitor(confidence_level=1.5)


@pytest.mark.parametrize("algorithm", ["kd_tree", "brute"])
def test_algorithm_is_passed_to_the_metric(tmp_path, algorithm):
    synthetic = make_real(150, seed=1) + 0.3
    monitor = FaithfulnessMonitor(
        sample_fn=lambda module, n, generator: synthetic[:n].clone(),
        num_samples=150,
        algorithm=algorithm,
        audit_every_n_evaluations=0,
    )
    run = trainer(tmp_path, max_epochs=1, callbacks=[monitor])
    run.fit(NoiseGenerator(), *loaders())
    assert monitor.metric is not None and monitor.metric.algorithm == algorithm
    expected = alpha_precision_beta_recall_authenticity(REAL, synthetic)
    for name, key in zip(NAMES, KEYS, strict=True):
        assert run.callback_metrics[name].item() == pytest.approx(expected[key].item(), abs=1e-6)
    with pytest.raises(ValueError, match=r"`algorithm` to be one of \('auto', 'kd_tree', 'brute'\), but got 'tree'"):
        FaithfulnessMonitor(algorithm="tree")


def test_model_checkpoint_keeps_the_epoch_of_best_fidelity(tmp_path):
    # The offset moves away from the data and back: fidelity peaks at epoch 2.
    module = NoiseGenerator(offsets=(1.5, 0.75, 0.0, 0.75, 1.5))
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val/alpha_precision", mode="max")
    monitor = FaithfulnessMonitor()
    trainer(tmp_path, max_epochs=5, callbacks=[monitor, checkpoint], enable_checkpointing=True).fit(module, *loaders())
    precision = [entry["alpha_precision"] for entry in monitor.history]
    assert max(range(5), key=precision.__getitem__) == 2
    assert precision[2] > precision[1] > precision[0] and precision[2] > precision[3] > precision[4]
    assert "epoch=2" in Path(checkpoint.best_model_path).name
    assert checkpoint.best_model_score.item() == pytest.approx(precision[2])


def test_early_stopping_stops_when_the_generator_starts_copying(tmp_path):
    module = NoiseGenerator(memorise_from=3, train_data=REAL)
    # mode="max" + divergence_threshold: stop as soon as the value falls *below* the threshold.
    stopper = EarlyStopping(monitor="val/authenticity", mode="max", divergence_threshold=0.2, patience=100)
    monitor = FaithfulnessMonitor()
    run = trainer(tmp_path, max_epochs=6, callbacks=[monitor, stopper])
    run.fit(module, *loaders())
    authenticity = [entry["authenticity"] for entry in monitor.history]
    assert len(authenticity) == 4  # epochs 0..3, then stopped
    assert min(authenticity[:3]) > 0.3
    assert authenticity[3] < 0.01  # copies of training samples are never authentic
    assert stopper.stopped_epoch == 3
    assert "Divergence threshold" in stopper.stopping_reason_message


def _nonfinite_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "hold NaN or inf" in str(w.message)]


def test_nonfinite_samples_warn_once_per_evaluation_and_log_nan(tmp_path):
    module = NoiseGenerator(nonfinite={1: 7, 3: 5})
    monitor = FaithfulnessMonitor()
    run = trainer(tmp_path, max_epochs=5, callbacks=[monitor])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run.fit(module, *loaders())
    messages = _nonfinite_warnings(record)
    assert len(messages) == 2
    assert "epoch 1: 7 of 200 generated samples" in messages[0]
    assert "epoch 3: 5 of 200 generated samples" in messages[1]
    assert run.current_epoch == 5  # training went on
    for entry in monitor.history:
        assert all(math.isnan(entry[key]) for key in KEYS) == (entry["epoch"] in (1, 3))
    assert monitor.last_num_nonfinite == 0
    assert math.isfinite(run.callback_metrics["val/alpha_precision"].item())


def test_nonfinite_samples_stop_early_stopping_with_check_finite(tmp_path):
    module = NoiseGenerator(nonfinite={2: 1})
    stopper = EarlyStopping(monitor="val/alpha_precision", mode="max", check_finite=True, patience=100)
    run = trainer(tmp_path, max_epochs=6, callbacks=[FaithfulnessMonitor(), stopper])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run.fit(module, *loaders())
    assert len(_nonfinite_warnings(record)) == 1
    assert stopper.stopped_epoch == 2
    assert math.isnan(run.callback_metrics["val/alpha_precision"].item())


# ------------------------------------------------------------------------------------------------ loggers


def test_csv_logger_gets_the_scalars_and_no_logger_is_fine(tmp_path):
    logger = CSVLogger(str(tmp_path), name="csv")
    trainer(tmp_path, logger=logger, max_epochs=2, callbacks=[FaithfulnessMonitor()]).fit(NoiseGenerator(), *loaders())
    with open(Path(logger.log_dir) / "metrics.csv") as f:
        rows = [row for row in csv.DictReader(f) if row.get(NAMES[0])]
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    assert all(0 <= float(row[name]) <= 1 for row in rows for name in NAMES)

    monitor = FaithfulnessMonitor()
    run = trainer(tmp_path, logger=False, max_epochs=1, callbacks=[monitor])
    run.fit(NoiseGenerator(), *loaders())
    assert set(NAMES) <= set(run.callback_metrics)


# --------------------------------------------------------------------------------------------- reproducible


def test_same_noise_every_evaluation_and_training_rng_untouched(tmp_path):
    class GlobalNoise(NoiseGenerator):  # ignores `generator`: the monitor seeds the global RNG per batch
        def sample(self, n: int) -> Tensor:  # type: ignore[override]
            return torch.randn(n, DIM) + 0.5

    def run(callbacks):
        torch.manual_seed(123)
        trainer(tmp_path, max_epochs=3, callbacks=callbacks).fit(GlobalNoise(), *loaders(shuffle=True))
        return torch.get_rng_state(), torch.rand(3)

    monitor = FaithfulnessMonitor(embedding="one-class", fit_kwargs={"epochs": 2})
    with_state, with_draw = run([monitor])
    without_state, without_draw = run([])
    # Training (its shuffling) consumed exactly the same global randomness with and without the monitor.
    assert torch.equal(with_state, without_state) and torch.equal(with_draw, without_draw)
    first = values(monitor)[0]
    assert all(entry == first for entry in values(monitor))  # fixed model, fixed noise: fixed values


def test_resume_logs_the_values_of_an_uninterrupted_run(tmp_path):
    def monitor():
        return FaithfulnessMonitor(embedding="one-class", fit_kwargs={"epochs": 3}, max_real_samples=150)

    def module():
        return NoiseGenerator(offsets=(0.8, 0.4, 0.2, 0.1, 0.0), follow_weight=True)

    full = monitor()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1, filename="{epoch}")
    trainer(tmp_path, max_epochs=5, callbacks=[full, checkpoint], enable_checkpointing=True).fit(
        module(), *loaders(shuffle=False)
    )
    path = tmp_path / "ckpt" / "epoch=1.ckpt"
    saved = torch.load(path, weights_only=False)["callbacks"][full.state_key]
    assert saved["evaluations"] == 2 and saved["embedding_state"]["center"].shape == (32,)

    resumed = monitor()
    trainer(tmp_path, max_epochs=5, callbacks=[resumed]).fit(module(), *loaders(shuffle=False), ckpt_path=path)
    assert "fit_embedding" not in resumed.setup_timings  # the checkpoint's embedding was reused
    assert [entry["epoch"] for entry in resumed.history] == [0, 1, 2, 3, 4]
    flat = [value for entry in values(full) for value in entry]
    assert [value for entry in values(resumed) for value in entry] == pytest.approx(flat, abs=1e-6)
    assert len(set(values(full))) == 5  # the values do move, so the comparison means something


# ----------------------------------------------------------------------------------------------- options


def test_every_n_epochs_and_its_interaction_with_early_stopping(tmp_path):
    monitor = FaithfulnessMonitor(every_n_epochs=2)
    trainer(tmp_path, max_epochs=5, callbacks=[monitor]).fit(NoiseGenerator(), *loaders())
    assert [entry["epoch"] for entry in monitor.history] == [1, 3]

    # Documented: a strict EarlyStopping watching a key that is not logged at epoch 0 raises (and we warn).
    stopper = EarlyStopping(monitor="val/beta_recall", mode="max")
    with pytest.warns(UserWarning, match="check_val_every_n_epoch=2"), pytest.raises(RuntimeError, match="beta_recall"):
        trainer(tmp_path, max_epochs=3, callbacks=[FaithfulnessMonitor(every_n_epochs=2), stopper]).fit(
            NoiseGenerator(), *loaders()
        )

    # The recipe: thin out validation itself; EarlyStopping and ModelCheckpoint then only look after evaluations.
    monitor = FaithfulnessMonitor()
    stopper = EarlyStopping(monitor="val/alpha_precision", mode="max", patience=1)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "every2", monitor="val/alpha_precision", mode="max")
    trainer(
        tmp_path,
        max_epochs=8,
        check_val_every_n_epoch=2,
        callbacks=[monitor, stopper, checkpoint],
        enable_checkpointing=True,
    ).fit(NoiseGenerator(offsets=(0.9, 0.9, 0.2, 0.2, 0.5, 0.5, 0.9, 0.9)), *loaders())
    assert [entry["epoch"] for entry in monitor.history] == [1, 3, 5]  # patience=1 counts evaluations
    assert stopper.stopped_epoch == 5
    assert "epoch=3" in Path(checkpoint.best_model_path).name


def test_real_sources_subsample_and_images(tmp_path):
    images = torch.randn(120, 1, 3, 3, generator=torch.Generator().manual_seed(3))
    train = DataLoader(TensorDataset(images), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(images[:40]), batch_size=40)

    on_val = FaithfulnessMonitor(real="val", prefix="v/")
    capped = FaithfulnessMonitor(max_real_samples=50, prefix="capped/")
    explicit = FaithfulnessMonitor(real=images[:60], num_samples=30, prefix="tensor/")
    as_loader = FaithfulnessMonitor(real=DataLoader(TensorDataset(images[:60]), batch_size=7), prefix="loader/")
    callbacks = [on_val, capped, explicit, as_loader]
    run = trainer(tmp_path, max_epochs=1, callbacks=callbacks)
    run.fit(NoiseGenerator(shape=(1, 3, 3)), train, val)
    assert [m.num_real for m in callbacks] == [40, 50, 60, 60]
    assert {"v/authenticity", "capped/authenticity", "tensor/authenticity", "loader/authenticity"} <= set(
        run.callback_metrics
    )
    assert run.callback_metrics["tensor/alpha_precision"].item() != run.callback_metrics["loader/alpha_precision"]
    # The subsample is seeded: a second monitor picks the same rows.
    again = FaithfulnessMonitor(max_real_samples=50, prefix="capped/")
    trainer(tmp_path, max_epochs=1, callbacks=[again]).fit(NoiseGenerator(shape=(1, 3, 3)), train, val)
    assert again.metric.real_features[0].equal(capped.metric.real_features[0])


def test_dict_batches_with_real_fn_and_a_user_embedding(tmp_path):
    class Dicts(Dataset):
        def __len__(self):
            return len(REAL)

        def __getitem__(self, index):
            return {"x": REAL[index], "label": index}

    class Module(NoiseGenerator):
        def training_step(self, batch, batch_idx):
            return (batch["x"] - self.weight).pow(2).mean()

    projection = nn.Linear(DIM, 3)
    monitor = FaithfulnessMonitor(real_fn=lambda batch: batch["x"], embedding=projection)
    data = DataLoader(Dicts(), batch_size=64)
    trainer(tmp_path, max_epochs=1, callbacks=[monitor]).fit(Module(), data, data)
    assert monitor.metric_dim == 3 and monitor.num_real == len(REAL)
    assert projection.training  # the user's module got its mode back


def test_two_monitors_with_their_own_prefix_and_state(tmp_path):
    identity = FaithfulnessMonitor()
    one_class = FaithfulnessMonitor(embedding="one-class", fit_kwargs={"epochs": 2}, prefix="val/one_class/")
    assert identity.state_key != one_class.state_key
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "two", monitor="val/one_class/alpha_precision", mode="max")
    run = trainer(tmp_path, max_epochs=2, callbacks=[identity, one_class, checkpoint], enable_checkpointing=True)
    run.fit(NoiseGenerator(), *loaders())
    assert set(NAMES) | {f"val/one_class/{key}" for key in KEYS} <= set(run.callback_metrics)
    states = torch.load(checkpoint.best_model_path, weights_only=False)["callbacks"]
    assert states[identity.state_key]["embedding_state"] is None
    assert states[one_class.state_key]["embedding_state"] is not None
    one_class.load_state_dict({})  # tolerant of missing keys


# ------------------------------------------------------------------------------------------ misconfiguration


class NoSample(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(DIM))

    def training_step(self, batch, batch_idx):
        return (batch[0] - self.weight).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class NoValidation(NoiseGenerator):
    validation_step = pl.LightningModule.validation_step


def _fit(tmp_path, monitor, module=None, data=None):
    train, val = data if data is not None else loaders()
    trainer(tmp_path, max_epochs=1, callbacks=[monitor]).fit(module or NoiseGenerator(), train, val)


@pytest.mark.parametrize(
    ("module", "monitor", "match"),
    [
        (NoSample(), FaithfulnessMonitor(), r"has no `sample` method.*sample_fn="),
        (NoiseGenerator(), FaithfulnessMonitor(real=REAL[:5]), r"holds 5 samples, but k = 5 needs at least 6"),
        (NoiseGenerator(), FaithfulnessMonitor(real=REAL[:2], k=2), r"holds 2 samples, but k = 2 needs at least 3"),
        (NoiseGenerator(), FaithfulnessMonitor(max_real_samples=4), r"Use more real data, a smaller `k`"),
        (
            NoiseGenerator(shape=(5,)),
            FaithfulnessMonitor(),
            r"generated samples have shape \(5,\).*real ones \(4,\)",
        ),
        (
            NoiseGenerator(),
            FaithfulnessMonitor(sample_fn=lambda module, n, generator: torch.zeros(n + 1, DIM)),
            r"asked `sample_fn` for 2 samples and got shape \(3, 4\)",
        ),
        (NoiseGenerator(), FaithfulnessMonitor(embedding=nn.Linear(3, 2)), r"embedding failed on the real samples"),
        (
            NoiseGenerator(),
            FaithfulnessMonitor(real=torch.cat([REAL, torch.full((2, DIM), float("nan"))])),
            r"NaN or inf values in 2 of its 202 samples",
        ),
        (
            NoiseGenerator(shape=(5,)),
            FaithfulnessMonitor(embedding=nn.Linear(DIM, 2)),
            r"embedding failed on generated samples of shape \(2, 5\)",
        ),
    ],
)
def test_misconfiguration_fails_before_training(tmp_path, module, monitor, match):
    with pytest.raises(MisconfigurationException, match=match):
        _fit(tmp_path, monitor, module)
    assert not monitor.history


def test_unreadable_batches_say_how_to_pass_real_fn(tmp_path):
    class Dicts(Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, index):
            return {"image": REAL[index]}

    data = DataLoader(Dicts(), batch_size=10)
    with pytest.raises(MisconfigurationException, match=r"real_fn=lambda batch: batch\['image'\]"):
        _fit(tmp_path, FaithfulnessMonitor(real=data), data=loaders())
    with pytest.raises(MisconfigurationException, match=r"`real_fn` failed on real batch 0"):
        _fit(tmp_path, FaithfulnessMonitor(real_fn=lambda batch: batch["x"]))
    # Two monitors need their own prefix; Lightning refuses two callbacks with one state_key at construction.
    with pytest.raises(RuntimeError, match="state_key"):
        trainer(tmp_path, callbacks=[FaithfulnessMonitor(), FaithfulnessMonitor()])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"real": "test"}, ValueError, r"`real` to be one of \('train', 'val'\)"),
        ({"real": 3}, ValueError, r"`real` to be one of"),
        ({"real": torch.zeros(0, 4)}, ValueError, r"shape \(0, 4\)"),
        ({"num_samples": 0}, ValueError, r"`num_samples` to be None or a positive integer, but got 0"),
        ({"max_real_samples": 2.5}, ValueError, r"`max_real_samples`"),
        ({"every_n_epochs": 0}, ValueError, r"`every_n_epochs` to be a positive integer"),
        ({"batch_size": True}, ValueError, r"`batch_size` to be a positive integer"),
        ({"seed": -1}, ValueError, r"`seed` to be a non-negative integer"),
        ({"sample_fn": 3}, TypeError, r"`sample_fn` to be None or callable"),
        ({"prefix": None}, ValueError, r"`prefix` to be a string"),
        ({"log_curves": "yes"}, ValueError, r"`log_curves` to be a bool"),
        ({"embedding": "pca"}, ValueError, r"`embedding` to be one of \(None, 'one-class'\)"),
        ({"embedding": 1}, TypeError, r"`embedding` to be one of"),
        ({"embedding_kwargs": {"nu": 0.5}}, ValueError, r"only used with `embedding='one-class'`"),
        ({"embedding": "one-class", "embedding_kwargs": {"width": 3}}, ValueError, r"among \['hidden'"),
        ({"embedding": "one-class", "embedding_kwargs": {"nu": 2.0}}, ValueError, r"`nu` to be a number in \(0, 1\]"),
        ({"embedding": "one-class", "fit_kwargs": {"real": REAL}}, ValueError, r"`fit_kwargs` to be among"),
        ({"k": 0}, ValueError, r"`k` to be a positive integer"),
        ({"protocol": "synthcity-0.3"}, ValueError, r"`protocol` to be one of"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        FaithfulnessMonitor(**kwargs)

"""Choosing ADS-GAN's privacy weight λ with Optuna, by α-precision, β-recall and authenticity.

ADS-GAN (Yoon, Drumright and van der Schaar, IEEE JBHI 2020) is a conditional WGAN-GP whose generator maps
a real record ``x`` and noise ``z`` to a synthetic record ``G(x, z)``. Its generator loss adds an
identifiability term that pushes the synthetic record away from the record it was conditioned on:

    L_G = -E[D(G(x, z))] - λ · sqrt(E ||G(x, z) - x||² / d)

λ = 0 is a plain conditional WGAN-GP (free to copy its condition); a larger λ buys privacy with fidelity.
Which λ? The one with the best fidelity and diversity, IPα + IRβ, among those whose authenticity A stays
above a threshold (the share of synthetic records that are not near-copies of a training record).

The search is a real Optuna study: a grid (or TPE) over λ, one Lightning run per trial with
``FaithfulnessMonitor`` logging ``val/alpha_precision``, ``val/beta_recall`` and ``val/authenticity``; a
small callback reports the penalised score ``IPα + IRβ - 10 · max(0, A_min - A)`` to the trial at every
evaluation, so Optuna's ``MedianPruner`` stops trials that fall behind. The final choice only considers
trials that meet ``A >= A_min``.

Data: scikit-learn's breast cancer table (569 x 30), standardised with the training split's statistics.
Needs Optuna, an optional extra: ``pip install "lightning-faithful[optuna]"``.

Run (from the repository root; every option of ``configs/adsgan.yaml`` can be overridden)::

    python examples/adsgan_search.py
    python examples/adsgan_search.py --search.min_authenticity=0.9 --trainer.max_epochs=100
    python examples/adsgan_search.py --search.sampler=tpe --search.n_trials=8

Parallel: several workers share one study through an Optuna storage, each running one trial at a time::

    python examples/adsgan_search.py --search.storage=sqlite:///adsgan.db --search.n_workers=2
    python examples/adsgan_search.py --search.storage=postgresql://user:password@host/db  # on every machine
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from faithful.demo.app import DemoCLI
from faithful.demo.data import split_indices

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "adsgan.yaml"
METRICS = ("alpha_precision", "beta_recall", "authenticity")
#: Weight of the authenticity shortfall in the score the pruner compares (makes any shortfall dominate).
PENALTY = 10.0
#: How often a trial whose worker stopped beating is run again (by another worker) before it counts as failed.
MAX_RETRY = 2
#: Seconds a finished worker waits between looks at the trials other workers are still running.
POLL_SECONDS = 2.0


# --------------------------------------------------------------------------------------------------
# data and model
# --------------------------------------------------------------------------------------------------


class BreastCancerDataModule(LightningDataModule):
    """scikit-learn's breast cancer features (569 x 30), standardised with the training split's mean and std.

    Args:
        batch_size: training batch size.
        val_fraction: share of the records held out (only for the validation loop the monitor hooks into).
        seed: seed of the split.
    """

    def __init__(self, batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.train_features: Tensor | None = None
        self.val_features: Tensor | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_features is not None:
            return
        from sklearn.datasets import load_breast_cancer

        features = torch.as_tensor(load_breast_cancer().data, dtype=torch.float32)
        train, val = split_indices(features.shape[0], self.val_fraction, self.seed)
        mean, std = features[train].mean(dim=0), features[train].std(dim=0)
        self.train_features = (features[train] - mean) / std
        self.val_features = (features[val] - mean) / std

    def train_dataloader(self) -> DataLoader:
        assert self.train_features is not None, "call setup() first"
        return DataLoader(TensorDataset(self.train_features), batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_features is not None, "call setup() first"
        return DataLoader(TensorDataset(self.val_features), batch_size=512)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes[:-1]):
        layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(0.2)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class ADSGAN(LightningModule):
    """Conditional WGAN-GP ``G(x, z)`` with ADS-GAN's identifiability term (weight ``identifiability_weight``).

    ``sample(n)`` conditions on ``n`` training records drawn at random (the records are taken from the data
    module when fitting starts) and returns ``G(x, z)``.

    Args:
        num_features: record size (30 for breast cancer).
        latent_dim: noise size.
        hidden: width of the two hidden layers of each network.
        identifiability_weight: λ, the weight of ``-sqrt(mean ||G(x, z) - x||² / d)`` in the generator loss.
        gradient_penalty: weight of the WGAN-GP gradient penalty.
        critic_steps: critic updates per generator update.
        lr: Adam learning rate of both networks (betas 0.5, 0.9 as in WGAN-GP).
    """

    def __init__(
        self,
        num_features: int = 30,
        latent_dim: int = 16,
        hidden: int = 128,
        identifiability_weight: float = 0.1,
        gradient_penalty: float = 10.0,
        critic_steps: int = 2,
        lr: float = 1e-3,
    ) -> None:
        super().__init__()
        if identifiability_weight < 0:
            raise ValueError(
                f"Expected argument `identifiability_weight` to be >= 0, but got {identifiability_weight!r}."
            )
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.latent_dim = latent_dim
        self.generator = _mlp([num_features + latent_dim, hidden, hidden, num_features])
        self.critic = _mlp([num_features, hidden, hidden, 1])
        self.conditions: Tensor | None = None

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.generator(torch.cat([x, z], dim=1))

    def on_fit_start(self) -> None:
        datamodule = self.trainer.datamodule  # type: ignore[attr-defined]
        self.conditions = datamodule.train_features.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` synthetic records, each conditioned on a random training record."""
        if self.conditions is None:
            raise RuntimeError("ADSGAN.sample needs the training records: fit the model with a data module first.")
        device = self.conditions.device
        index = torch.randint(self.conditions.shape[0], (n,), generator=generator, device=device)
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self(self.conditions[index], z)

    def _gradient_penalty(self, real: Tensor, synthetic: Tensor) -> Tensor:
        mix = torch.rand(real.shape[0], 1, device=real.device)
        points = (mix * real + (1 - mix) * synthetic).requires_grad_(True)
        (gradients,) = torch.autograd.grad(self.critic(points).sum(), points, create_graph=True)
        return ((gradients.norm(dim=1) - 1) ** 2).mean()

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = batch[0]
        optimizers = self.optimizers()
        assert isinstance(optimizers, list), "configure_optimizers returns two optimizers"
        opt_generator, opt_critic = optimizers
        for _ in range(self.hparams["critic_steps"]):
            synthetic = self(real, torch.randn(real.shape[0], self.latent_dim, device=self.device)).detach()
            critic_loss = (
                self.critic(synthetic).mean()
                - self.critic(real).mean()
                + self.hparams["gradient_penalty"] * self._gradient_penalty(real, synthetic)
            )
            opt_critic.zero_grad()
            self.manual_backward(critic_loss)
            opt_critic.step()

        synthetic = self(real, torch.randn(real.shape[0], self.latent_dim, device=self.device))
        identifiability = torch.sqrt(((synthetic - real) ** 2).mean())
        generator_loss = -self.critic(synthetic).mean() - self.hparams["identifiability_weight"] * identifiability
        opt_generator.zero_grad()
        self.manual_backward(generator_loss)
        opt_generator.step()
        self.log_dict(
            {
                "train/critic_loss": critic_loss,
                "train/generator_loss": generator_loss,
                "train/distance": identifiability,
            },
            on_step=False,
            on_epoch=True,
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        pass  # the monitor needs a validation loop; the metrics come from it

    def configure_optimizers(self) -> Any:
        lr, betas = self.hparams["lr"], (0.5, 0.9)
        return (
            torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas),
        )


# --------------------------------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------------------------------


@dataclass
class SearchOptions:
    """Options of the λ search (the ``search:`` section of ``configs/adsgan.yaml``).

    Args:
        sampler: ``"grid"`` (every value of ``lambdas``) or ``"tpe"`` (``n_trials`` draws in [min, max] of
            ``lambdas``).
        lambdas: the grid of λ values (for ``"tpe"``: only its range is used).
        n_trials: trials of the TPE sampler (the grid runs each value once).
        min_authenticity: the constraint A >= min_authenticity.
        pruning: stop trials whose score falls below the median of earlier trials at the same evaluation.
        pruning_warmup: evaluations before a trial may be pruned.
        window: the metrics of a trial are the mean of its last ``window`` evaluations (GAN metrics are noisy).
        seed: seed of the sampler (every worker of a shared grid study must use the same one).
        storage: where the study lives. ``None``: in memory, one process. An RDB URL
            (``sqlite:///adsgan.db`` on one machine; ``postgresql://…`` or ``mysql+pymysql://…`` across
            machines) or a journal file path (any value without ``://``, e.g. ``adsgan.journal``): every
            process started with the same storage and ``study_name`` works on the same study.
        study_name: name of the study in ``storage``; a new run with the same name joins (or finishes) it.
        n_workers: worker processes this command starts on this machine (each runs one trial at a time);
            more than 1 needs ``storage``.
        heartbeat_interval: seconds between a running trial's heartbeats in an RDB storage (0: none). A
            trial silent for 3 intervals is marked failed and run again by another worker (up to
            ``MAX_RETRY`` times). Journal files have no heartbeat.
        summary: print the table of all the study's trials and the choice at the end (the workers a
            ``n_workers`` command starts leave that to the command).
    """

    sampler: str = "grid"
    lambdas: list[float] = field(default_factory=lambda: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    n_trials: int = 6
    min_authenticity: float = 0.8
    pruning: bool = True
    pruning_warmup: int = 10
    window: int = 3
    seed: int = 0
    storage: str | None = None
    study_name: str = "adsgan_lambda"
    n_workers: int = 1
    heartbeat_interval: int = 30
    summary: bool = True


@dataclass
class SearchResult:
    """The table (one row per trial) and the chosen λ (``None`` when no trial finished)."""

    rows: list[dict[str, Any]]
    chosen_lambda: float | None
    feasible: bool  #: whether the chosen trial meets the authenticity constraint
    min_authenticity: float


def score(alpha_precision: float, beta_recall: float, authenticity: float, min_authenticity: float) -> float:
    """IPα + IRβ, minus ``PENALTY`` times the authenticity shortfall: what the study maximises and prunes on."""
    return alpha_precision + beta_recall - PENALTY * max(0.0, min_authenticity - authenticity)


class OptunaPruning(Callback):
    """Report the penalised score to an Optuna trial after each evaluation; stop the run if Optuna says so.

    GAN metrics jump from one evaluation to the next, so the reported values are the mean of the last
    ``window`` evaluations (:attr:`last`), for the pruner and for the trial's final value alike.
    (``optuna-integration`` ships ``PyTorchLightningPruningCallback``; this is the same idea in a few lines,
    so the example needs only ``optuna``.) The trial is marked pruned by the objective after ``fit`` returns.
    """

    def __init__(self, trial: Any, min_authenticity: float, window: int = 3, prefix: str = "val/") -> None:
        self.trial = trial
        self.min_authenticity = min_authenticity
        self.window = window
        self.keys = [prefix + name for name in METRICS]
        self.history: list[list[float]] = []
        self.pruned_at: int | None = None
        self.last: dict[str, float] = {}  #: the three metrics averaged over the last `window` evaluations

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not all(key in trainer.callback_metrics for key in self.keys):
            return
        values = [float(trainer.callback_metrics[key]) for key in self.keys]
        if any(math.isnan(value) for value in values):
            return
        self.history.append(values)
        recent = self.history[-self.window :]
        alpha_precision, beta_recall, authenticity = (sum(column) / len(recent) for column in zip(*recent, strict=True))
        self.last = {
            "alpha_precision": alpha_precision,
            "beta_recall": beta_recall,
            "authenticity": authenticity,
            "epoch": trainer.current_epoch,
        }
        value = score(alpha_precision, beta_recall, authenticity, self.min_authenticity)
        self.trial.report(value, step=len(self.history) - 1)
        if self.trial.should_prune():
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True


class SearchCLI(DemoCLI):
    """The demo's CLI plus the ``search:`` section."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_class_arguments(SearchOptions, "search")


def _cli(argv: list[str], callbacks: list[Callback] | None = None) -> SearchCLI:
    with warnings.catch_warnings():
        # Each trial re-parses the command line plus its λ, so args and sys.argv both hold options: intended.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return SearchCLI(
            ADSGAN,
            BreastCancerDataModule,
            args=argv,
            run=False,
            auto_configure_optimizers=False,  # the models build their own (two, for the GANs)
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"callbacks": callbacks or []},
            parser_kwargs={
                "default_config_files": [str(CONFIG)],
                "prog": "adsgan_search.py",
                "description": "Search ADS-GAN's identifiability weight λ by IPα + IRβ subject to A >= A_min.",
            },
        )


def search(argv: list[str] | None = None) -> SearchResult:
    """Run the study configured by ``configs/adsgan.yaml`` overridden by ``argv``; print and return the table."""
    try:
        import optuna
    except ModuleNotFoundError:
        print(
            'This example needs Optuna, an optional extra: pip install "lightning-faithful[optuna]" '
            "(or pip install optuna).",
            file=sys.stderr,
        )
        raise
    argv = list(sys.argv[1:] if argv is None else argv)
    threads = torch.get_num_threads()
    try:
        options = SearchOptions(**_cli(argv).config["search"])  # parse once: bad configs fail before any trial
        _check_options(options)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if options.n_workers > 1:
            return _run_workers(optuna, argv, options)
        return _run_study(optuna, argv, options)
    finally:
        torch.set_num_threads(threads)


def _check_options(options: SearchOptions) -> None:
    if options.sampler not in ("grid", "tpe"):
        raise ValueError(f"Expected `search.sampler` to be 'grid' or 'tpe', but got {options.sampler!r}.")
    if options.n_workers < 1:
        raise ValueError(f"Expected `search.n_workers` to be a positive integer, but got {options.n_workers}.")
    if options.n_workers > 1 and options.storage is None:
        raise ValueError(
            f"Expected `search.storage` (e.g. sqlite:///adsgan.db) with `search.n_workers` = {options.n_workers}, "
            "but got None: the workers share the study through it."
        )
    if options.heartbeat_interval < 0:
        raise ValueError(
            f"Expected `search.heartbeat_interval` to be >= 0 seconds, but got {options.heartbeat_interval}."
        )


def _open_storage(optuna: Any, options: SearchOptions) -> Any:
    """The Optuna storage named by ``options.storage`` (``None``: the study stays in this process's memory)."""
    url = options.storage
    if url is None:
        return None
    if "://" not in url:  # a journal file: append-only log, file-locked, works where SQLite's locks do not (NFS)
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url))
    heartbeat: dict[str, Any] = {}
    if options.heartbeat_interval > 0:
        if not hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # named so since Optuna 4.9
            raise RuntimeError(
                "Expected Optuna >= 4.9 for `search.heartbeat_interval` > 0 (the heartbeat's retry callback), "
                f"but got {optuna.__version__}: pip install -U optuna, or pass --search.heartbeat_interval=0."
            )
        # A worker that dies mid-trial (killed, machine lost) stops beating; the next worker that asks for a
        # trial marks it failed and the callback queues the same λ again, so no grid point is lost.
        heartbeat = {
            "heartbeat_interval": options.heartbeat_interval,
            "grace_period": 3 * options.heartbeat_interval,  # slack for a worker on a busy machine
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        }
    sqlite = url.startswith("sqlite")
    # SQLite makes a process wait this long for another's write lock instead of failing at once (default 5 s).
    engine_kwargs = {"connect_args": {"timeout": 60}} if sqlite else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat is "experimental"
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat)
    if sqlite:
        _serialise_sqlite(storage.engine)
    return storage


def _serialise_sqlite(engine: Any) -> None:
    """Make every transaction on this SQLite engine take the database's write lock when it begins.

    Python's ``sqlite3`` opens a transaction only at the first write, so Optuna's read-check-write steps
    (take a waiting trial if it is still waiting, fail a stale trial if it is still running) read outside
    any transaction: two processes can both see the trial waiting and both take it (a trial run twice).
    ``BEGIN IMMEDIATE`` (SQLAlchemy's recipe for serialisable SQLite transactions) closes that gap; the cost,
    one writer at a time, is nothing next to a trial's minutes of training. PostgreSQL and MySQL lock the row
    (``SELECT … FOR UPDATE``) and need nothing of this.
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 must not issue its own BEGIN; `on_begin` does

    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    engine.dispose()  # connections opened before the listeners (table creation) would miss `on_connect`


def _describe(options: SearchOptions) -> str:
    url = str(options.storage)
    if "://" in url and "@" in url:  # hide a password: scheme://user:password@host -> scheme://user:***@host
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        if ":" in credentials:
            url = f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return f"study {options.study_name!r} in {url}"


def _run_workers(optuna: Any, argv: list[str], options: SearchOptions) -> SearchResult:
    """Start ``n_workers`` processes on this machine, each the same command as one worker; then summarise."""
    storage = _open_storage(optuna, options)
    # Create the tables and the study before any worker starts, so the workers only ever load it.
    optuna.create_study(storage=storage, study_name=options.study_name, load_if_exists=True, direction="maximize")
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *argv,
        "--search.n_workers=1",
        "--search.summary=false",
    ]
    print(f"Starting {options.n_workers} workers on {_describe(options)}.", flush=True)
    workers = [subprocess.Popen(command) for _ in range(options.n_workers)]
    try:
        codes = [worker.wait() for worker in workers]
    finally:
        for worker in workers:  # the command was interrupted: do not leave workers behind
            if worker.poll() is None:
                worker.terminate()
                worker.wait()
    for worker, code in zip(workers, codes, strict=True):
        if code != 0:
            print(f"Worker {worker.pid} exited with code {code}.", file=sys.stderr)
    study = optuna.load_study(study_name=options.study_name, storage=storage)
    return _summarise(optuna, study, options, show=True)


def _run_study(optuna: Any, argv: list[str], options: SearchOptions) -> SearchResult:
    low, high = min(options.lambdas), max(options.lambdas)
    storage = _open_storage(optuna, options)
    shared = storage is not None
    if options.sampler == "grid":
        # Every worker must shuffle the grid the same way (the same seed): GridSampler gives trial number i
        # the i-th point of its shuffled grid, and trial numbers are unique across the workers of a study.
        sampler = optuna.samplers.GridSampler({"lambda": list(options.lambdas)}, seed=options.seed)
        n_trials = len(options.lambdas)
    else:
        sampler = optuna.samplers.TPESampler(
            # Workers of a shared study with one seed would propose the same λ side by side.
            seed=options.seed + (os.getpid() if shared else 0),
            n_startup_trials=min(3, options.n_trials),
            constraints_func=lambda trial: (trial.user_attrs.get("authenticity_shortfall", 1.0),),
        )
        n_trials = options.n_trials
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=options.pruning_warmup)
        if options.pruning
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=storage,
        study_name=options.study_name if shared else None,
        load_if_exists=True,  # the first worker creates the study, the others (and later runs) join it
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
    )
    worker = f"{socket.gethostname()}:{os.getpid()}"
    constraint = f"A≥{options.min_authenticity:g}"
    if shared:
        print(f"Worker {worker} on {_describe(options)}.", flush=True)
    print(
        f"{'trial':>5}  {'λ':>6}  {'IPα':>6}  {'IRβ':>6}  {'A':>6}  {'IPα+IRβ':>8}  {constraint:>7}  state"
        + ("  (worker)" if shared else ""),
        flush=True,
    )

    def objective(trial: Any) -> float:
        if shared and _is_surplus(study, trial.number, n_trials):
            # Another worker started the last trial between this worker's check and its ask: nothing is left
            # to run, and running a grid point again would count it twice. The trial ends without training.
            study.stop()
            trial.set_user_attr("skipped", True)
            raise optuna.TrialPruned("every trial of the study has started")
        lam = trial.suggest_float("lambda", low, high)
        trial.set_user_attr("worker", worker)
        pruning = OptunaPruning(trial, options.min_authenticity, options.window)
        version = f"trial_{trial.number:03d}_lambda_{lam:g}"
        overrides = [f"--model.identifiability_weight={lam}", f"--trainer.logger.init_args.version={version}"]
        cli = _cli([*argv, *overrides], [pruning])  # seeds everything with `seed_everything`: trials differ by λ
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        if not pruning.last:
            raise RuntimeError("The monitor logged no metrics: is trainer.max_epochs >= check_val_every_n_epoch?")
        values = [pruning.last[name] for name in METRICS]
        shortfall = options.min_authenticity - values[2]
        trial.set_user_attr("authenticity_shortfall", shortfall)
        for name, value in pruning.last.items():
            trial.set_user_attr(name, value)
        if pruning.pruned_at is not None:
            trial.set_user_attr("pruned_at", pruning.pruned_at)
        state = "pruned" if pruning.pruned_at is not None else "complete"
        print(
            f"{trial.number:>5}  {lam:>6.3g}  {values[0]:6.3f}  {values[1]:6.3f}  {values[2]:6.3f}  "
            f"{values[0] + values[1]:8.3f}  {'yes' if shortfall <= 0 else 'no':>7}  {state}"
            + (f" at epoch {pruning.pruned_at}" if pruning.pruned_at is not None else "")
            + (f"  ({worker})" if shared else ""),
            flush=True,
        )
        if pruning.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned at epoch {pruning.pruned_at}")
        return score(values[0], values[1], values[2], options.min_authenticity)

    if shared:
        heartbeat = options.heartbeat_interval > 0 and "://" in str(options.storage)  # journal files have none
        _work(optuna, study, objective, n_trials, heartbeat)
    else:
        study.optimize(objective, n_trials=n_trials)
    return _summarise(optuna, study, options, show=options.summary)


def _new_trials(trials: list[Any]) -> list[int]:
    """Numbers of the trials the sampler chose, in order: not the queued ones (a retry, an ``enqueue_trial``)."""
    queued = ("failed_trial", "fixed_params")
    return sorted(trial.number for trial in trials if not any(key in trial.system_attrs for key in queued))


def _is_surplus(study: Any, number: int, n_trials: int) -> bool:
    """Whether trial ``number`` is a new trial beyond the study's first ``n_trials`` new trials."""
    new = _new_trials(study.get_trials(deepcopy=False))
    return number in new and new.index(number) >= n_trials  # a queued trial is never surplus


def _to_start(optuna: Any, study: Any, n_trials: int) -> bool:
    """Whether the study has work no worker has taken: fewer than ``n_trials`` new trials, or a queued retry."""
    trials = study.get_trials(deepcopy=False)
    waiting = any(trial.state == optuna.trial.TrialState.WAITING for trial in trials)
    return waiting or len(_new_trials(trials)) < n_trials


def _work(optuna: Any, study: Any, objective: Any, n_trials: int, heartbeat: bool) -> None:
    """One worker of a shared study: take trials until all have started, then wait for the others' to finish.

    While it waits it checks the other workers' heartbeats (RDB storages): a trial whose worker died is marked
    failed and queued again, and this worker runs it. Without a heartbeat a dead worker cannot be told from
    a slow one, so the worker does not wait and its summary covers the trials finished so far.
    """

    def stop_when_all_started(study: Any, trial: Any) -> None:
        if not _to_start(optuna, study, n_trials):
            study.stop()

    waiting_for: list[int] = []
    while True:
        if _to_start(optuna, study, n_trials):
            study.optimize(objective, callbacks=[stop_when_all_started])
            continue
        running = [t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]
        if not running or not heartbeat:
            return
        if running != waiting_for:
            print(f"Waiting for trials {running} (other workers).", flush=True)
            waiting_for = running
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial -> failed, its λ queued again
        time.sleep(POLL_SECONDS)


def _summarise(optuna: Any, study: Any, options: SearchOptions, show: bool) -> SearchResult:
    """The rows of the study's finished trials (whichever worker ran them) and the choice among them."""
    state = optuna.trial.TrialState
    rows: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state not in (state.COMPLETE, state.PRUNED) or "authenticity" not in trial.user_attrs:
            continue  # skipped (nothing left to run), failed, or still running elsewhere
        attrs = trial.user_attrs
        row = {
            "trial": trial.number,
            "lambda": trial.params["lambda"],
            **{name: attrs[name] for name in (*METRICS, "epoch")},
            "feasible": attrs["authenticity_shortfall"] <= 0,
            "state": "pruned" if trial.state == state.PRUNED else "complete",
        }
        if "worker" in attrs and options.storage is not None:
            row["worker"] = attrs["worker"]
        rows.append(row)
    if show and options.storage is not None:
        unfinished = study.get_trials(deepcopy=False, states=(state.RUNNING, state.WAITING))
        failed = study.get_trials(deepcopy=False, states=(state.FAIL,))
        print(f"\nThe {_describe(options)}: {len(rows)} trials finished", end="")
        print(f", {len(failed)} failed" if failed else "", end="")
        print(f", {len(unfinished)} still running or queued (the choice below ignores them)" if unfinished else "")
    return _choose(rows, options.min_authenticity, show=show)


def _choose(rows: list[dict[str, Any]], min_authenticity: float, show: bool = True) -> SearchResult:
    print_ = print if show else _quiet
    header = f"{'λ':>6}  {'IPα':>6}  {'IRβ':>6}  {'A':>6}  {'IPα+IRβ':>8}  state"
    print_(f"\n{header}  (sorted by λ; each the mean of the trial's last evaluations)")
    for row in sorted(rows, key=lambda row: row["lambda"]):
        print_(
            f"{row['lambda']:>6.3g}  {row['alpha_precision']:6.3f}  {row['beta_recall']:6.3f}  "
            f"{row['authenticity']:6.3f}  {row['alpha_precision'] + row['beta_recall']:8.3f}  {row['state']}"
            + ("" if row["feasible"] else f", A < {min_authenticity:g}")
        )
    complete = [row for row in rows if row["state"] == "complete"]
    feasible = [row for row in complete if row["feasible"]]
    if feasible:
        best = max(feasible, key=lambda row: row["alpha_precision"] + row["beta_recall"])
        print_(
            f"\nChosen λ = {best['lambda']:g}: IPα + IRβ = {best['alpha_precision'] + best['beta_recall']:.3f} "
            f"(IPα = {best['alpha_precision']:.3f}, IRβ = {best['beta_recall']:.3f}) with authenticity "
            f"A = {best['authenticity']:.3f} >= {min_authenticity:g}."
        )
        return SearchResult(rows, best["lambda"], True, min_authenticity)
    if complete:
        best = max(complete, key=lambda row: row["authenticity"])
        print_(
            f"\nNo λ reached authenticity >= {min_authenticity:g}; the most authentic was λ = {best['lambda']:g} "
            f"(A = {best['authenticity']:.3f}). Widen search.lambdas or train longer."
        )
        return SearchResult(rows, best["lambda"], False, min_authenticity)
    print_("\nNo trial completed.")
    return SearchResult(rows, None, False, min_authenticity)


def _quiet(*args: Any, **kwargs: Any) -> None:
    pass


def main(argv: list[str] | None = None) -> int:
    try:
        result = search(argv)
    except ModuleNotFoundError as err:
        if err.name == "optuna":
            return 1
        raise
    return 0 if result.chosen_lambda is not None else 1


if __name__ == "__main__":
    sys.exit(main())

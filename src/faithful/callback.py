r"""``FaithfulnessMonitor``: α-precision, β-recall and authenticity of a generator while it trains.

A :class:`lightning.pytorch.Callback` around :class:`faithful.AlphaPrecisionBetaRecallAuthenticity`. The real
reference (by default the training data: authenticity is about copying what the generator was trained on) is read
and embedded once when training starts; at the end of every evaluated validation epoch the monitor draws seeded
samples from the generator, logs IPα, IRβ and authenticity as scalars (so ``ModelCheckpoint`` and ``EarlyStopping``
can monitor them) and draws both curves into TensorBoard.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.model_helpers import is_overridden
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset
from typing_extensions import override

from faithful.functional._checks import ALPHA_PRECISION, AUTHENTICITY, BETA_RECALL, SCALAR_KEYS, _check_options
from faithful.metric import AlphaPrecisionBetaRecallAuthenticity

__all__ = ["EMBEDDINGS", "REAL_SOURCES", "FaithfulnessMonitor", "default_real_fn"]

log = logging.getLogger(__name__)

#: Named real references (``real=...``); a tensor or a DataLoader/iterable of batches is accepted as well.
REAL_SOURCES = {
    "train": "the training data (trainer.train_dataloader's dataset): authenticity measures copying of it",
    "val": "the validation data (trainer.val_dataloaders' dataset)",
}

#: Named embeddings (``embedding=...``); any ``torch.nn.Module`` is accepted as well.
EMBEDDINGS = {
    None: "identity: samples are flattened to vectors",
    "one-class": "faithful.OneClassEmbedding (Deep SVDD) fitted on the real reference when training starts",
}

SampleFn = Callable[["pl.LightningModule", int, torch.Generator], Tensor]
RealFn = Callable[[Any], Tensor]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def default_real_fn(batch: Any) -> Tensor:
    """The samples of a batch: the batch itself if it is a tensor, else the first element of a tuple/list batch.

    Raises:
        MisconfigurationException: for a dict batch or anything else it cannot read; the message says how to pass
            a ``real_fn``.
    """
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and len(batch) > 0 and isinstance(batch[0], Tensor):
        return batch[0]
    if isinstance(batch, Mapping):
        key = next((k for k, v in batch.items() if isinstance(v, Tensor)), "<key>")
        raise MisconfigurationException(
            f"FaithfulnessMonitor cannot tell which entry of a dict batch holds the samples (keys: {list(batch)}). "
            f"Pass `real_fn`, e.g. `FaithfulnessMonitor(real_fn=lambda batch: batch[{key!r}])`."
        )
    raise MisconfigurationException(
        f"FaithfulnessMonitor cannot read samples from a batch of type {type(batch).__name__}: expected a tensor or a "
        f"tuple/list whose first element is a tensor. Pass `real_fn=lambda batch: ...` returning the samples as a "
        f"tensor of shape (batch_size, ...)."
    )


def _batch_seed(seed: int, index: int) -> int:
    """Seed of generation batch ``index``: independent streams per batch, the same whichever process draws it."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@contextmanager
def _forked_rng(device: torch.device) -> Iterator[None]:
    """Restore the global CPU RNG (and the module's CUDA device's) on exit: training randomness stays untouched."""
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        yield


def _seed_global(seed: int, device: torch.device) -> None:
    # Only this process's device: torch.manual_seed would reseed every visible GPU, outside the fork.
    torch.random.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


def _accepts_generator(fn: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins and C extensions without a signature
        return False
    return any(p.name == "generator" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _flatten(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1)


class FaithfulnessMonitor(Callback):
    r"""Log α-precision (IPα), β-recall (IRβ) and authenticity of a generator at the end of validation epochs.

    **Real reference.** When training starts (``on_train_start``, where Lightning has built the dataloaders and
    restored a checkpoint) the monitor reads the real reference once: by default the *training* data, because
    authenticity measures copying of what the generator was trained on. It iterates the dataloader's dataset
    sequentially in a plain, non-distributed ``DataLoader``, so under DDP every process sees every sample exactly
    once (``DistributedSampler`` padding would duplicate samples, and a duplicate makes its twin's nearest-neighbour
    distance 0). ``real_fn(batch)`` picks the samples out of a batch. With ``max_real_samples`` a seeded random
    subset (the same on every process and every run) is kept. The reference is embedded once; the metric caches it
    and everything derived from it alone (``reset_real_features=False``), so an evaluation only pays for the
    synthetic side. Under DDP each process holds a disjoint contiguous slice; the metric gathers them.

    **Synthetic samples.** ``num_samples`` samples (default: as many as there are real ones) are drawn with
    ``sample_fn(pl_module, n, generator)`` (default: ``pl_module.sample(n)``, with ``generator=`` when ``sample``
    accepts it) in batches of ``batch_size``, under ``torch.no_grad()`` with the module in eval mode (its mode is
    restored afterwards). Batch ``i`` uses a ``torch.Generator`` on the module's device seeded from ``(seed, i)``,
    and the global RNG is seeded the same way inside :func:`torch.random.fork_rng`, so every evaluation draws the
    same noise (epochs differ only through the weights) and training randomness is untouched. Under DDP process
    ``r`` draws batches ``r, r + W, ...``: the gathered synthetic set is the one a single process draws.

    **Embedding.** ``None``: samples of any shape are flattened to vectors. A ``torch.nn.Module``: applied to the
    samples as they come (in eval mode, without gradients; it must not change during training, the real side is
    embedded once); outputs are flattened. ``"one-class"``: a :class:`faithful.OneClassEmbedding` (Deep SVDD, the
    paper's section 5) built with ``embedding_kwargs``, fitted with ``fit_kwargs`` on the flattened real reference
    when training starts, then frozen; its center is the metric's real center. Under DDP rank 0 fits it and
    broadcasts the weights. Its ``state_dict`` is saved in the callback's checkpoint state and reused on resume, so
    a resumed run measures with exactly the same instrument (a few hundred kB for the default sizes).

    **Logging.** At the end of an evaluated validation epoch (not during the sanity check, and only in
    ``trainer.fit``) every process computes the same result; the monitor logs ``{prefix}alpha_precision``,
    ``{prefix}beta_recall`` and ``{prefix}authenticity`` as 0-d tensors with ``pl_module.log(..., sync_dist=False)``
    (the values are identical on every process), draws both curves into every ``TensorBoardLogger`` as the image
    ``{prefix}curves`` (rank 0, when ``log_curves``), and drops the synthetic samples. If any generated sample (or
    its embedding) holds NaN or inf, the three scalars are logged as NaN so ``EarlyStopping(check_finite=True)``
    can stop, and one warning per evaluation says how many samples (summed over processes) were non-finite;
    training continues otherwise. Per evaluation the seconds spent on generation, embedding and the metric go to
    :attr:`last_timings` and to the ``faithful.callback`` logger at INFO level (rank 0); :attr:`history` keeps the
    values of every evaluation.

    **Skipped epochs.** With ``every_n_epochs=n`` the monitor evaluates when ``(epoch + 1) % n == 0``, like
    ``Trainer(check_val_every_n_epoch=n)``. Lightning's ``trainer.callback_metrics`` keeps the last logged value
    of a key, so on skipped epochs an ``EarlyStopping`` or ``ModelCheckpoint`` watching these keys either finds no
    key (before the first evaluation: ``EarlyStopping(strict=True)`` raises, ``ModelCheckpoint`` raises), or
    re-reads the previous evaluation's value (``EarlyStopping`` counts it against ``patience``; a
    ``ModelCheckpoint`` with ``save_top_k > 1`` may file other weights under that value). To monitor these metrics,
    leave ``every_n_epochs=1`` and thin out validation itself with ``Trainer(check_val_every_n_epoch=n)``: then
    both callbacks only look after an evaluation, and ``patience`` counts evaluations.

    **Checkpoints.** :meth:`state_dict` holds the number of evaluations, the history of values and the one-class
    embedding's weights; :meth:`load_state_dict` tolerates missing keys. Because the reference is re-read and the
    noise is seeded, a run resumed with ``trainer.fit(..., ckpt_path=...)`` logs the values an uninterrupted run
    logs. :attr:`state_key` includes the ``prefix``, so several monitors (different embeddings, different
    prefixes) can share a Trainer.

    Misconfiguration fails before the first training step with a message that says how to fix it: bad constructor
    arguments (here), and, when fitting starts, a module without ``sample`` and no ``sample_fn``, no validation
    loop, a batch ``real_fn`` cannot read, fewer real samples than ``k + 1``, or generated samples that do not
    match the real ones.

    Args:
        real: ``"train"`` (default), ``"val"``, a tensor of real samples (samples along dim 0) or a DataLoader /
            iterable of batches.
        num_samples: synthetic samples per evaluation. ``None``: as many as real samples in the reference.
        max_real_samples: keep at most this many real samples (a random subset seeded by ``seed``). ``None``: all.
        sample_fn: ``sample_fn(pl_module, n, generator) -> Tensor`` of ``n`` samples. ``None``: ``pl_module.sample``.
        real_fn: ``real_fn(batch) -> Tensor`` of the real samples in a batch. ``None``: :func:`default_real_fn`.
        embedding: ``None``, ``"one-class"`` or a ``torch.nn.Module`` (see above).
        embedding_kwargs: keyword arguments of :class:`faithful.OneClassEmbedding` (``hidden``, ``out_features``,
            ``objective``, ``nu``, ``center``, ``eps``); ``"one-class"`` only.
        fit_kwargs: keyword arguments of :meth:`faithful.OneClassEmbedding.fit` (``epochs``, ``batch_size``,
            ``lr``, ...); ``seed`` defaults to ``seed``, ``device`` to the module's, ``progress`` to whether the
            Trainer shows a progress bar (rank 0). ``"one-class"`` only.
        every_n_epochs: evaluate when ``(epoch + 1) % every_n_epochs == 0`` (see "Skipped epochs").
        batch_size: samples per ``sample_fn`` call and per embedding batch.
        seed: seed of the generation noise, the real subsample and the one-class fit.
        prefix: prepended to the logged names.
        log_curves: draw the curves into TensorBoard loggers.
        k: neighbours of the β-recall ball (see the metric); ``None``: the protocol's default.
        protocol: ``"paper"``, ``"reference"`` or ``"synthcity"`` (see the metric).
        num_thresholds: grid points of the curves; ``None``: the protocol's default.
        chunk_size: the metric's distance block size; ``None`` picks one.

    Raises:
        ValueError: if an argument is out of range or not one of the listed options.
        TypeError: if ``sample_fn``/``real_fn`` is not callable or ``embedding`` has the wrong type.

    Example:
        >>> import torch
        >>> import lightning.pytorch as pl
        >>> from torch import nn
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from faithful.callback import FaithfulnessMonitor
        >>> class ShiftedNoise(pl.LightningModule):  # a toy generator: standard normal noise plus a learnt shift
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.shift = nn.Parameter(torch.zeros(2))
        ...     def training_step(self, batch, batch_idx):
        ...         return (batch[0] - self.shift).pow(2).mean()
        ...     def validation_step(self, batch, batch_idx):
        ...         pass  # the monitor needs a validation loop, not a validation loss
        ...     def configure_optimizers(self):
        ...         return torch.optim.SGD(self.parameters(), lr=0.5)
        ...     def sample(self, n, generator=None):
        ...         return torch.randn(n, 2, generator=generator, device=self.device) + self.shift
        >>> data = DataLoader(TensorDataset(torch.randn(300, 2) + 3.0), batch_size=100)
        >>> monitor = FaithfulnessMonitor(num_samples=200)
        >>> trainer = pl.Trainer(max_epochs=2, callbacks=[monitor], logger=False, enable_checkpointing=False,
        ...                      enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.fit(ShiftedNoise(), train_dataloaders=data, val_dataloaders=data)
        >>> sorted(trainer.callback_metrics)
        ['val/alpha_precision', 'val/authenticity', 'val/beta_recall']
        >>> [entry["epoch"] for entry in monitor.history], monitor.num_real
        ([0, 1], 300)
        >>> sorted(monitor.last_timings)
        ['embedding', 'generation', 'metric', 'total']
    """

    def __init__(
        self,
        real: str | Tensor | Iterable[Any] = "train",
        *,
        num_samples: int | None = None,
        max_real_samples: int | None = None,
        sample_fn: SampleFn | None = None,
        real_fn: RealFn | None = None,
        embedding: str | nn.Module | None = None,
        embedding_kwargs: Mapping[str, Any] | None = None,
        fit_kwargs: Mapping[str, Any] | None = None,
        every_n_epochs: int = 1,
        batch_size: int = 512,
        seed: int = 0,
        prefix: str = "val/",
        log_curves: bool = True,
        k: int | None = None,
        protocol: str = "paper",
        num_thresholds: int | None = None,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(real, str):
            if real not in REAL_SOURCES:
                raise ValueError(
                    f"Expected argument `real` to be one of {tuple(REAL_SOURCES)}, a tensor or a DataLoader, "
                    f"but got {real!r}."
                )
        elif isinstance(real, Tensor):
            if real.ndim == 0 or real.shape[0] == 0 or real.is_complex():
                raise ValueError(
                    f"Expected argument `real` as a tensor to hold real samples along dim 0, but got shape "
                    f"{tuple(real.shape)} and dtype {real.dtype}."
                )
        elif not isinstance(real, Iterable):
            raise ValueError(
                f"Expected argument `real` to be one of {tuple(REAL_SOURCES)}, a tensor or a DataLoader, "
                f"but got {type(real).__name__}."
            )
        for name, value in (("num_samples", num_samples), ("max_real_samples", max_real_samples)):
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"Expected argument `{name}` to be None or a positive integer, but got {value!r}.")
        for name, value in (("every_n_epochs", every_n_epochs), ("batch_size", batch_size)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"Expected argument `{name}` to be a positive integer, but got {value!r}.")
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"Expected argument `seed` to be a non-negative integer, but got {seed!r}.")
        for name, fn in (("sample_fn", sample_fn), ("real_fn", real_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"Expected argument `{name}` to be None or callable, but got {type(fn).__name__}.")
        if not isinstance(prefix, str):
            raise ValueError(f"Expected argument `prefix` to be a string, but got {prefix!r}.")
        if not isinstance(log_curves, bool):
            raise ValueError(f"Expected argument `log_curves` to be a bool, but got {log_curves!r}.")
        if not (isinstance(embedding, nn.Module) or (isinstance(embedding, str) or embedding is None)):
            raise TypeError(
                f"Expected argument `embedding` to be one of {tuple(EMBEDDINGS)} or a torch.nn.Module, "
                f"but got {type(embedding).__name__}."
            )
        if not isinstance(embedding, nn.Module) and embedding not in EMBEDDINGS:
            raise ValueError(
                f"Expected argument `embedding` to be one of {tuple(EMBEDDINGS)} or a torch.nn.Module, "
                f"but got {embedding!r}."
            )
        self._embedding_kwargs = self._check_one_class_kwargs(embedding, embedding_kwargs, fit_kwargs)
        self._fit_kwargs = dict(fit_kwargs or {})
        # The metric checks these again; checking here makes a typo fail at construction, not at fit start.
        self._k, self._num_thresholds = _check_options(k, num_thresholds, protocol, chunk_size)

        self.real = real
        self.num_samples = num_samples
        self.max_real_samples = max_real_samples
        self.sample_fn = sample_fn
        self.real_fn: RealFn = real_fn if real_fn is not None else default_real_fn
        self.embedding = embedding
        self.every_n_epochs = every_n_epochs
        self.batch_size = batch_size
        self.seed = seed
        self.prefix = prefix
        self.log_curves = log_curves
        self.k = k
        self.protocol = protocol
        self.num_thresholds = num_thresholds
        self.chunk_size = chunk_size

        #: The metric, created when training starts; holds the embedded real reference.
        self.metric: AlphaPrecisionBetaRecallAuthenticity | None = None
        #: The embedding in use after training started (``None`` for the identity).
        self.embedding_module: nn.Module | None = embedding if isinstance(embedding, nn.Module) else None
        #: Real samples in the reference, all processes together (set when training starts).
        self.num_real: int | None = None
        #: Seconds of the last evaluation: ``generation``, ``embedding``, ``metric``, ``total``.
        self.last_timings: dict[str, float] = {}
        #: Seconds spent when training started: ``read_real``, ``fit_embedding`` (one-class, when it was
        #: fitted rather than restored from a checkpoint), ``embed_real``.
        self.setup_timings: dict[str, float] = {}
        #: Non-finite generated samples (summed over processes) in the last evaluation.
        self.last_num_nonfinite = 0
        #: One entry per evaluation: ``epoch``, ``step`` and the three values as floats (NaN if non-finite).
        self.history: list[dict[str, float | int]] = []
        self._embedding_state: dict[str, Tensor] | None = None
        self._real_shape: tuple[int, ...] | None = None
        self._dtype = torch.float32

    # ------------------------------------------------------------------------------------------ arguments

    @staticmethod
    def _check_one_class_kwargs(
        embedding: object, embedding_kwargs: Mapping[str, Any] | None, fit_kwargs: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        for name, kwargs in (("embedding_kwargs", embedding_kwargs), ("fit_kwargs", fit_kwargs)):
            if kwargs is None:
                continue
            if not isinstance(kwargs, Mapping):
                raise ValueError(f"Expected argument `{name}` to be None or a dict, but got {type(kwargs).__name__}.")
            if embedding != "one-class" and kwargs:
                raise ValueError(
                    f"Argument `{name}` is only used with `embedding='one-class'`, but got embedding={embedding!r}."
                )
        if embedding != "one-class":
            return {}
        from faithful.embedding import OneClassEmbedding

        embedding_kwargs = dict(embedding_kwargs or {})
        allowed = [p for p in inspect.signature(OneClassEmbedding).parameters if p != "in_features"]
        unknown = sorted(set(embedding_kwargs) - set(allowed))
        if unknown:
            raise ValueError(f"Expected the keys of `embedding_kwargs` to be among {allowed}, but got {unknown}.")
        allowed_fit = [p for p in inspect.signature(OneClassEmbedding.fit).parameters if p not in ("self", "real")]
        unknown = sorted(set(fit_kwargs or {}) - set(allowed_fit))
        if unknown:
            raise ValueError(f"Expected the keys of `fit_kwargs` to be among {allowed_fit}, but got {unknown}.")
        # Building one now checks the values (sizes, objective, nu...) at construction rather than at fit start.
        OneClassEmbedding(1, **embedding_kwargs)
        return embedding_kwargs

    @property
    @override
    def state_key(self) -> str:
        return self._generate_state_key(prefix=self.prefix)

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    # -------------------------------------------------------------------------------------------- setup

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != TrainerFn.FITTING:
            return
        if self.sample_fn is None and not callable(getattr(pl_module, "sample", None)):
            raise MisconfigurationException(
                f"FaithfulnessMonitor draws synthetic samples with `pl_module.sample(n)`, but "
                f"{type(pl_module).__name__} has no `sample` method. Add `def sample(self, n, generator=None) -> "
                f"Tensor` to it, or pass `FaithfulnessMonitor(sample_fn=lambda module, n, generator: ...)`."
            )
        if not is_overridden("validation_step", pl_module) or trainer.limit_val_batches == 0:
            raise MisconfigurationException(
                "FaithfulnessMonitor evaluates at the end of validation epochs, but this Trainer runs no validation "
                "loop. Give the module a `validation_step` (it may do nothing: `def validation_step(self, batch, "
                "batch_idx): pass`) and a val dataloader, and keep `limit_val_batches` above 0 (1 batch is enough)."
            )
        if self.every_n_epochs > 1:
            watched = {self._name(key) for key in SCALAR_KEYS}
            for cb in trainer.callbacks:  # type: ignore[attr-defined]
                if isinstance(cb, (EarlyStopping, ModelCheckpoint)) and cb.monitor in watched:
                    rank_zero_warn(
                        f"{type(cb).__name__}(monitor={cb.monitor!r}) watches a key that FaithfulnessMonitor only "
                        f"logs every {self.every_n_epochs} epochs: before the first evaluation the key is missing "
                        f"(which raises) and afterwards the last value is re-read. Use "
                        f"`Trainer(check_val_every_n_epoch={self.every_n_epochs})` with "
                        f"`FaithfulnessMonitor(every_n_epochs=1)` instead.",
                        category=UserWarning,
                    )

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Here rather than in on_fit_start: the fit loop has built the train dataloader and restored the
        # checkpoint's loop state (building it earlier would skip restoring a stateful loader on resume).
        device = pl_module.device
        world_size, rank = trainer.world_size, trainer.global_rank
        start = time.perf_counter()
        with _forked_rng(device):  # iterating a DataLoader draws its base seed from the global RNG
            reference = self._read_reference(trainer)
        reference = self._subsample(reference)
        self.setup_timings = {"read_real": time.perf_counter() - start}
        k = self._k
        if reference.shape[0] < k + 1:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's real reference holds {reference.shape[0]} samples, but k = {k} needs at least "
                f"{k + 1} (each real sample's k nearest other real samples). Use more real data, a smaller "
                f"`k`, or a larger `max_real_samples`."
            )
        bad_rows = int((~torch.isfinite(_flatten(reference))).any(dim=1).sum())
        if bad_rows:  # checked on the whole reference, so every process raises (no process waits for the others)
            raise MisconfigurationException(
                f"FaithfulnessMonitor's real reference holds NaN or inf values in {bad_rows} of its "
                f"{reference.shape[0]} samples. Clean the data, or pass a `real_fn` (or `real=`) that selects "
                f"finite samples."
            )
        self._real_shape = tuple(reference.shape[1:])
        self.num_real = reference.shape[0]
        self._dtype = reference.dtype if reference.dtype == torch.float64 else torch.float32

        dry_run = self._dry_run(pl_module)

        if self.embedding == "one-class":
            self.embedding_module = self._one_class(trainer, pl_module, _flatten(reference).to(self._dtype))
        elif self.embedding_module is not None:
            self.embedding_module.to(device)

        center = getattr(self.embedding_module, "center", None) if self.embedding == "one-class" else None
        self.metric = AlphaPrecisionBetaRecallAuthenticity(
            k=self.k,
            center=center,
            protocol=self.protocol,
            num_thresholds=self.num_thresholds,
            reset_real_features=False,
            chunk_size=self.chunk_size,
        ).to(device)
        start = time.perf_counter()
        # Contiguous slices in dataset order: the gathered real set is the reference, once, in order.
        local = reference.tensor_split(world_size)[rank]
        try:
            features, nonfinite = self._embed(local, device)
        except Exception as err:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's embedding failed on the real samples (shape {tuple(local.shape)}): {err!r}. "
                f"Pass an embedding that accepts samples of shape {self._real_shape}."
            ) from err
        # Summed over processes so that all of them raise together.
        nonfinite = int(trainer.strategy.reduce(torch.tensor(nonfinite, device=device), reduce_op="sum").item())
        if nonfinite:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's embedding maps {nonfinite} finite real samples to NaN or inf. Check the "
                f"embedding (its scale, its weights)."
            )
        self.metric.update(features, real=True)
        self.setup_timings["embed_real"] = time.perf_counter() - start
        if isinstance(self.embedding, nn.Module):
            self._check_embedded_dry_run(dry_run, device)
        if trainer.is_global_zero:
            log.info(
                "FaithfulnessMonitor(prefix=%r): %d real samples of shape %s, %s; read in %.2f s, embedded in %.2f s%s",
                self.prefix,
                self.num_real,
                self._real_shape,
                "identity embedding" if self.embedding is None else f"embedding {type(self.embedding_module).__name__}",
                self.setup_timings["read_real"],
                self.setup_timings["embed_real"],
                f", one-class fit {self.setup_timings['fit_embedding']:.2f} s"
                if "fit_embedding" in self.setup_timings
                else "",
            )

    def _loader_of(self, trainer: pl.Trainer) -> Any:
        if not isinstance(self.real, str):
            return self.real
        if self.real == "train":
            loaders = trainer.train_dataloader
        else:
            if trainer.val_dataloaders is None:  # no sanity check ran: build them now, as the val loop would
                trainer.fit_loop.epoch_loop.val_loop.setup_data()
            loaders = trainer.val_dataloaders
        if isinstance(loaders, (list, tuple)) and len(loaders) == 1:
            loaders = loaders[0]
        if loaders is None or isinstance(loaders, (Mapping, list, tuple)):
            got = "no dataloader" if loaders is None else f"{len(loaders)} dataloaders"
            raise MisconfigurationException(
                f"FaithfulnessMonitor(real={self.real!r}) needs exactly one {self.real} dataloader, but the Trainer "
                f"has {got}. Pass the real reference explicitly: `FaithfulnessMonitor(real=<tensor or DataLoader>)`."
            )
        return loaders

    def _sequential(self, loader: Any) -> Any:
        """A plain, non-distributed, unshuffled DataLoader over ``loader``'s dataset (anything else: as is)."""
        if not isinstance(loader, DataLoader):
            return loader
        dataset = loader.dataset
        if isinstance(dataset, IterableDataset):
            return DataLoader(dataset, batch_size=loader.batch_size, collate_fn=loader.collate_fn)
        if loader.batch_sampler is None:  # automatic batching off: every item is a batch already
            return DataLoader(dataset, batch_size=None, shuffle=False, collate_fn=loader.collate_fn)
        return DataLoader(
            dataset,
            batch_size=loader.batch_size or self.batch_size,
            shuffle=False,
            drop_last=False,
            collate_fn=loader.collate_fn,
            num_workers=loader.num_workers,
            worker_init_fn=loader.worker_init_fn,
            multiprocessing_context=loader.multiprocessing_context if loader.num_workers else None,
        )

    def _read_reference(self, trainer: pl.Trainer) -> Tensor:
        if isinstance(self.real, Tensor):
            samples = self.real.detach().cpu()
        else:
            chunks: list[Tensor] = []
            for index, batch in enumerate(self._sequential(self._loader_of(trainer))):
                try:
                    x = self.real_fn(batch)
                except MisconfigurationException:
                    raise
                except Exception as err:
                    raise MisconfigurationException(
                        f"FaithfulnessMonitor's `real_fn` failed on real batch {index} (a {type(batch).__name__}): "
                        f"{err!r}. Pass a `real_fn(batch)` that returns the samples as a tensor."
                    ) from err
                if not isinstance(x, Tensor) or x.ndim == 0:
                    raise MisconfigurationException(
                        f"FaithfulnessMonitor's `real_fn` returned {type(x).__name__} "
                        f"{'of shape ()' if isinstance(x, Tensor) else ''} for real batch {index}; it must return "
                        f"the samples as a tensor of shape (batch_size, ...). Pass a `real_fn` that does."
                    )
                if chunks and x.shape[1:] != chunks[0].shape[1:]:
                    raise MisconfigurationException(
                        f"FaithfulnessMonitor read real samples of shape {tuple(chunks[0].shape[1:])} and then "
                        f"{tuple(x.shape[1:])} (batch {index}); every real sample must have the same shape."
                    )
                chunks.append(x.detach().cpu())
            if not chunks:
                raise MisconfigurationException(
                    f"FaithfulnessMonitor(real={self.real if isinstance(self.real, str) else 'loader'}) found no "
                    f"real batches. Give it data, or pass `real=<tensor>`."
                )
            samples = torch.cat(chunks)
        if samples.is_complex() or samples.dtype == torch.bool:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's real samples have dtype {samples.dtype}; they must be real numbers."
            )
        if not samples.is_floating_point() or samples.dtype in (torch.float16, torch.bfloat16):
            samples = samples.float()  # integers (e.g. uint8 images) and half precision: measure in float32
        return samples

    def _subsample(self, reference: Tensor) -> Tensor:
        if self.max_real_samples is None or reference.shape[0] <= self.max_real_samples:
            return reference
        generator = torch.Generator().manual_seed(self.seed)
        keep = torch.randperm(reference.shape[0], generator=generator)[: self.max_real_samples].sort().values
        return reference[keep]

    def _dry_run(self, pl_module: pl.LightningModule) -> Tensor:
        """Draw 2 samples (seeded, RNG forked) so a broken ``sample_fn`` fails before the first training step."""
        with _forked_rng(pl_module.device):
            samples = self._draw(pl_module, 2, 0)
        assert self._real_shape is not None
        per_sample = math.prod(self._real_shape)
        if not isinstance(self.embedding, nn.Module) and samples[0].numel() != per_sample:
            raise MisconfigurationException(
                f"FaithfulnessMonitor: generated samples have shape {tuple(samples.shape[1:])} ({samples[0].numel()} "
                f"values) but the real ones {self._real_shape} ({per_sample} values); both are flattened and compared "
                f"in the same space. Make the generator's samples match the real data, or pick the real samples "
                f"with `real_fn`."
            )
        return samples

    def _check_embedded_dry_run(self, samples: Tensor, device: torch.device) -> None:
        """With a user embedding: generated and real samples must embed into the same dimension."""
        try:
            features, _ = self._embed(samples, device)
        except Exception as err:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's embedding failed on generated samples of shape {tuple(samples.shape)} "
                f"(real samples have shape {self._real_shape}): {err!r}. The embedding must accept both."
            ) from err
        if features.shape[1] != self.metric_dim:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's embedding maps generated samples of shape {tuple(samples.shape[1:])} to "
                f"{features.shape[1]} features but real samples of shape {self._real_shape} to {self.metric_dim}. "
                f"Make the generator's samples match the real data, or pick the real samples with `real_fn`."
            )

    def _draw(self, pl_module: pl.LightningModule, n: int, batch_index: int) -> Tensor:
        """Generation batch ``batch_index`` of ``n`` samples (call inside :func:`_forked_rng`)."""
        device = pl_module.device
        seed = _batch_seed(self.seed, batch_index)
        generator = torch.Generator(device=device).manual_seed(seed)
        _seed_global(seed, device)  # for a `sample` that ignores `generator` and draws from the global RNG
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                if self.sample_fn is not None:
                    samples = self.sample_fn(pl_module, n, generator)
                else:
                    sample = cast(Callable[..., Tensor], pl_module.sample)
                    samples = sample(n, generator=generator) if _accepts_generator(sample) else sample(n)
        finally:
            pl_module.train(was_training)
        if not isinstance(samples, Tensor) or samples.ndim == 0 or samples.shape[0] != n:
            got = f"shape {tuple(samples.shape)}" if isinstance(samples, Tensor) else type(samples).__name__
            raise MisconfigurationException(
                f"FaithfulnessMonitor asked {'`sample_fn`' if self.sample_fn else '`pl_module.sample`'} for {n} "
                f"samples and got {got}; it must return a tensor of shape ({n}, ...)."
            )
        return samples.detach()

    def _one_class(self, trainer: pl.Trainer, pl_module: pl.LightningModule, reference: Tensor) -> nn.Module:
        from faithful.embedding import OneClassEmbedding

        device = pl_module.device
        embedding = OneClassEmbedding(reference.shape[1], **self._embedding_kwargs)
        state = self._embedding_state
        if state is not None:
            try:
                embedding.load_state_dict(state)
            except (RuntimeError, KeyError) as err:  # a checkpoint of another configuration: refit
                rank_zero_warn(
                    f"FaithfulnessMonitor(prefix={self.prefix!r}) could not reuse the one-class embedding saved in "
                    f"the checkpoint ({err}); fitting a new one, so values are not comparable to the earlier run's."
                )
                state = None
        if state is None:
            fit_kwargs = {
                "seed": self.seed,
                "device": device,
                "progress": trainer.is_global_zero and trainer.progress_bar_callback is not None,
                **self._fit_kwargs,
            }
            # Rank 0 fits and broadcasts: the instrument must be identical on every process, which two
            # independent fits guarantee on the CPU but not on every GPU.
            start = time.perf_counter()
            if trainer.is_global_zero:
                embedding.fit(reference, **fit_kwargs)
                state = {key: value.cpu() for key, value in embedding.state_dict().items()}
            state = trainer.strategy.broadcast(state, src=0)
            self.setup_timings["fit_embedding"] = time.perf_counter() - start
            assert state is not None
            embedding.load_state_dict(state)
        self._embedding_state = {key: value.detach().cpu().clone() for key, value in embedding.state_dict().items()}
        embedding.to(device).eval().requires_grad_(False)
        return embedding

    # ------------------------------------------------------------------------------------------ evaluation

    def _embed(self, samples: Tensor, device: torch.device) -> tuple[Tensor, int]:
        """Embedded ``(N, d)`` features of ``samples`` and how many rows (raw or embedded) are non-finite."""
        module = self.embedding_module
        outputs: list[Tensor] = []
        nonfinite = 0
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            for chunk in samples.split(self.batch_size) if samples.shape[0] else [samples]:
                chunk = chunk.to(device)
                if not chunk.is_floating_point() or chunk.dtype in (torch.float16, torch.bfloat16):
                    chunk = chunk.float()
                bad = ~torch.isfinite(_flatten(chunk)).all(dim=1)
                if module is None:
                    features = _flatten(chunk)
                else:
                    with torch.no_grad():
                        features = _flatten(module(_flatten(chunk) if self.embedding == "one-class" else chunk))
                bad |= ~torch.isfinite(features).all(dim=1)
                nonfinite += int(bad.sum())
                outputs.append(features.to(self._dtype))
        finally:
            if module is not None:
                module.train(was_training)
        return torch.cat(outputs), nonfinite

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING or self.metric is None:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self._evaluate(trainer, pl_module)

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.metric is not None and self.num_real is not None
        device = pl_module.device
        world_size, rank = trainer.world_size, trainer.global_rank
        total = self.num_samples if self.num_samples is not None else self.num_real
        sizes = [min(self.batch_size, total - start) for start in range(0, total, self.batch_size)]

        start = time.perf_counter()
        generation = embedding = 0.0
        features: list[Tensor] = []
        nonfinite = 0
        with _forked_rng(device):
            # Batch i has its own seed and goes to process i % world_size: the union over processes is the set
            # one process draws, whatever the number of processes. Each batch is embedded at once, so only the
            # features (not the raw samples, e.g. images) of a whole evaluation are held in memory.
            for index in range(rank, len(sizes), world_size):
                tick = time.perf_counter()
                batch = self._draw(pl_module, sizes[index], index)
                tock = time.perf_counter()
                embedded, bad = self._embed(batch, device)
                del batch
                features.append(embedded)
                nonfinite += bad
                generation += tock - tick
                embedding += time.perf_counter() - tock
        embedded_at = time.perf_counter()

        # Every process must agree on whether to compute: the metric's gather is a collective.
        nonfinite = int(trainer.strategy.reduce(torch.tensor(nonfinite, device=device), reduce_op="sum").item())
        self.last_num_nonfinite = nonfinite
        result: dict[str, Tensor] | None = None
        if nonfinite:
            rank_zero_warn(
                f"FaithfulnessMonitor(prefix={self.prefix!r}) at epoch {trainer.current_epoch}: {nonfinite} of "
                f"{total} generated samples hold NaN or inf (in the samples or their embedding); logging NaN for "
                f"{', '.join(self._name(key) for key in SCALAR_KEYS)}.",
                category=RuntimeWarning,
            )
            values = {key: torch.tensor(float("nan"), device=device) for key in SCALAR_KEYS}
        else:
            if not features:  # more processes than generation batches: contribute an empty slice
                features = [torch.empty(0, self.metric_dim, device=device, dtype=self._dtype)]
            for chunk in features:
                self.metric.update(chunk, real=False)
            result = self.metric.compute()
            values = {key: result[key] for key in SCALAR_KEYS}
        self.metric.reset()  # keeps the real side
        computed = time.perf_counter()

        for key, value in values.items():
            pl_module.log(self._name(key), value, on_step=False, on_epoch=True, sync_dist=False)
        if result is not None and self.log_curves and trainer.is_global_zero:
            self._log_figure(trainer, result)
        done = time.perf_counter()

        self.last_timings = {
            "generation": generation,
            "embedding": embedding,
            "metric": computed - embedded_at,
            "total": done - start,
        }
        self.history.append(
            {
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                **{key: float(value) for key, value in values.items()},
            }
        )
        if trainer.is_global_zero:
            log.info(
                "FaithfulnessMonitor(prefix=%r) epoch %d: %s=%.4f %s=%.4f %s=%.4f | %d samples: generation %.3f s, "
                "embedding %.3f s, metric %.3f s",
                self.prefix,
                trainer.current_epoch,
                ALPHA_PRECISION,
                float(values[ALPHA_PRECISION]),
                BETA_RECALL,
                float(values[BETA_RECALL]),
                AUTHENTICITY,
                float(values[AUTHENTICITY]),
                total,
                self.last_timings["generation"],
                self.last_timings["embedding"],
                self.last_timings["metric"],
            )

    @property
    def metric_dim(self) -> int:
        """Dimension of the embedded real reference (after training started)."""
        assert self.metric is not None and self.metric.real_features
        return int(self.metric.real_features[0].shape[1])

    def _log_figure(self, trainer: pl.Trainer, result: dict[str, Tensor]) -> None:
        loggers = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        if not loggers:
            return
        from matplotlib.figure import Figure

        from faithful.plotting import plot_curves

        # The step Lightning files the epoch's scalars under (it counts batches, not optimizer steps, which
        # differ for e.g. GANs with two optimizers), so the image lines up with them in TensorBoard.
        step = getattr(trainer.fit_loop.epoch_loop, "_batches_that_stepped", trainer.global_step)
        for logger in loggers:
            # A bare Figure, not pyplot: no global figure registry to leak into, no GUI backend needed.
            figure = Figure(figsize=(4.8, 4.2), layout="constrained")
            plot_curves(
                result,
                ax=figure.add_subplot(),
                title=f"epoch {trainer.current_epoch}: A = {float(result[AUTHENTICITY]):.3f}",
            )
            logger.experiment.add_figure(self._name("curves"), figure, global_step=step, close=True)

    # ------------------------------------------------------------------------------------------- state

    @override
    def state_dict(self) -> dict[str, Any]:
        return {
            "evaluations": len(self.history),
            "history": [dict(entry) for entry in self.history],
            "num_real": self.num_real,
            "embedding_state": self._embedding_state,
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Tolerant: checkpoints of older versions may lack keys; nothing here is needed to compute values.
        self.history = [dict(entry) for entry in state_dict.get("history", [])]
        if self.embedding == "one-class":
            self._embedding_state = state_dict.get("embedding_state")

r"""``FaithfulnessMonitor``: α-precision, β-recall and authenticity of a generator while it trains.

A :class:`lightning.pytorch.Callback` around :class:`faithful.AlphaPrecisionBetaRecallAuthenticity`. This module holds
the class and its hooks; the other jobs live next to it: :mod:`~faithful.callback.arguments` (constructor checks),
:mod:`~faithful.callback.reference` (reading the real reference, bounded, and finding raw real samples again),
:mod:`~faithful.callback.sampling` (seeded generation, re-drawing single batches), :mod:`~faithful.callback.features`
(embedding, the one-class fit) and :mod:`~faithful.callback.tensorboard` (curves and audit views).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.model_helpers import is_overridden
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn
from typing_extensions import override

from faithful.callback.arguments import check_arguments, check_one_class_kwargs
from faithful.callback.features import embed, fit_one_class, flatten
from faithful.callback.reference import RealFn, RealRows, default_real_fn, read_reference
from faithful.callback.sampling import SampleFn, batch_layout, draw, forked_rng, redraw
from faithful.callback.tensorboard import log_audit, log_curves, tensorboard_loggers
from faithful.functional._checks import (
    ALPHA_PRECISION,
    AUTHENTICITY,
    BETA_RECALL,
    INTERVAL_KEYS,
    SCALAR_KEYS,
    _check_algorithm,
    _check_bootstrap_options,
    _check_options,
)
from faithful.metric import AlphaPrecisionBetaRecallAuthenticity

__all__ = ["FaithfulnessMonitor"]

log = logging.getLogger("faithful.callback")


class FaithfulnessMonitor(Callback):
    r"""Log α-precision (IPα), β-recall (IRβ) and authenticity of a generator, and show which samples are why.

    **Real reference.** When training starts (``on_train_start``, where Lightning has built the dataloaders and
    restored a checkpoint) the monitor reads the real reference once: by default the *training* data, because
    authenticity measures copying of what the generator was trained on. It iterates the dataloader's dataset
    sequentially in a plain, non-distributed ``DataLoader``, so under DDP every process sees every sample exactly
    once (``DistributedSampler`` padding would duplicate samples, and a duplicate makes its twin's nearest-neighbour
    distance 0). ``real_fn(batch)`` picks the samples out of a batch. With ``max_real_samples`` a seeded random
    subset of a map-style dataset (the same on every process and every run) is read, and only it; a stream (an
    ``IterableDataset`` or an iterable of batches) is read up to its first ``max_real_samples`` samples or
    ``limit_train_batches`` batches, and a stream without ``__len__`` needs one of the two (it may never end). See
    :mod:`faithful.callback.reference`. The reference is embedded once; the metric caches it
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

    **When.** At the end of an evaluated validation epoch (not during the sanity check, and only in
    ``trainer.fit``). A module without ``validation_step`` (a GAN often has no validation loop) is evaluated at the
    end of training epochs instead, with the same keys, so ``ModelCheckpoint`` and ``EarlyStopping`` check them
    there; a module with a ``validation_step`` but no validation data is an error.

    **Logging.** Every process computes the same result; the monitor logs ``{prefix}alpha_precision``,
    ``{prefix}beta_recall`` and ``{prefix}authenticity`` as 0-d tensors with ``pl_module.log(..., sync_dist=False)``
    (the values are identical on every process), draws both curves into every ``TensorBoardLogger`` as the image
    ``{prefix}curves`` (rank 0, when ``log_curves``), and drops the synthetic samples. If any generated sample (or
    its embedding) holds NaN or inf, the three scalars are logged as NaN so ``EarlyStopping(check_finite=True)``
    can stop, and one warning per evaluation says how many samples (summed over processes) were non-finite;
    training continues otherwise. Per evaluation the seconds spent on generation, embedding and the metric go to
    :attr:`last_timings` and to the ``faithful.callback`` logger at INFO level (rank 0); :attr:`history` keeps the
    values of every evaluation.

    **Audit views.** Every ``audit_every_n_evaluations``-th evaluation (the first included; ``0``: never) each
    ``TensorBoardLogger`` gets, on rank 0, the histograms ``{prefix}distance_to_real`` and ``{prefix}alpha_level``
    and three views of ``num_audit_samples`` rows (:mod:`faithful.views`): ``{prefix}audit/copies`` (the least
    authentic generated samples, each beside its nearest real sample), ``{prefix}audit/atypical`` (highest α-level)
    and ``{prefix}audit/missed`` (uncovered real samples farthest from any generated one). Image-shaped samples
    (``(C, H, W)`` with C in {1, 3}, ``(H, W)``, or made so by ``image_shape`` / ``to_image``) give labelled image
    grids, other samples Markdown tables (``add_text``). Memory stays bounded: no raw generated sample is kept; the
    shown ones are re-drawn (only their seeded generation batches) and the shown real ones are read again by index
    (tensor or map-style dataset), taken from the features (identity embedding) or, for a stream seen through
    another embedding, from a CPU copy of the raw reference that only then is kept.

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
    arguments (here), and, when fitting starts, a module without ``sample`` and no ``sample_fn``, a
    ``validation_step`` without validation data, a stream without ``__len__`` and no bound, a batch ``real_fn`` cannot
    read, fewer real samples than ``k + 1``, or generated samples that do not
    match the real ones.

    Args:
        real: ``"train"`` (default), ``"val"``, a tensor of real samples (samples along dim 0) or a DataLoader /
            iterable of batches.
        num_samples: synthetic samples per evaluation. ``None``: as many as real samples in the reference.
        max_real_samples: read at most this many real samples: a random subset seeded by ``seed`` of a map-style
            dataset or tensor, the first ones of a stream. ``None``: all (a stream needs ``__len__`` or a bound).
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
        algorithm: the metric's exact neighbour search, ``"auto"``, ``"kd_tree"`` or ``"brute"`` (same results).
        confidence_level: also log confidence bounds at this level (e.g. ``0.95``) as ``{prefix}alpha_precision_lower``,
            ``{prefix}alpha_precision_upper``, ... (see the metric; they cost about ``num_resamples / 25`` computes).
            ``None``: no bounds.
        num_resamples: half-sample replicates of the bounds (with ``confidence_level``).
        audit_every_n_evaluations: log the audit views and histograms every this many evaluations (the first
            evaluation included); ``0`` turns them off.
        num_audit_samples: rows of each audit view.
        image_shape: ``(C, H, W)`` or ``(H, W)`` each sample is reshaped to for the audit grids (e.g. ``(1, 8, 8)``
            for flattened 8x8 digits). ``None``: image-shaped samples are shown as images, others as tables.
        to_image: ``to_image(samples) -> (N, C, H, W)`` for the audit grids, instead of ``image_shape``.

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
        >>> sorted(trainer.callback_metrics)  # no TensorBoard logger here: no audit views
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
        algorithm: str = "auto",
        confidence_level: float | None = None,
        num_resamples: int = 200,
        audit_every_n_evaluations: int = 1,
        num_audit_samples: int = 8,
        image_shape: Sequence[int] | None = None,
        to_image: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.image_shape = check_arguments(
            real=real,
            num_samples=num_samples,
            max_real_samples=max_real_samples,
            every_n_epochs=every_n_epochs,
            batch_size=batch_size,
            seed=seed,
            sample_fn=sample_fn,
            real_fn=real_fn,
            prefix=prefix,
            log_curves=log_curves,
            embedding=embedding,
            audit_every_n_evaluations=audit_every_n_evaluations,
            num_audit_samples=num_audit_samples,
            image_shape=image_shape,
            to_image=to_image,
        )
        self._embedding_kwargs = check_one_class_kwargs(embedding, embedding_kwargs, fit_kwargs)
        self._fit_kwargs = dict(fit_kwargs or {})
        # The metric checks these again; checking here makes a typo fail at construction, not at fit start.
        self._k, self._num_thresholds = _check_options(k, num_thresholds, protocol, chunk_size)
        _check_algorithm(algorithm)
        if confidence_level is not None:
            _check_bootstrap_options(confidence_level, num_resamples, seed)

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
        self.algorithm = algorithm
        self.confidence_level = confidence_level
        self.num_resamples = num_resamples
        self.audit_every_n_evaluations = audit_every_n_evaluations
        self.num_audit_samples = num_audit_samples
        self.to_image = to_image

        #: The metric, created when training starts; holds the embedded real reference.
        self.metric: AlphaPrecisionBetaRecallAuthenticity | None = None
        #: The embedding in use after training started (``None`` for the identity).
        self.embedding_module: nn.Module | None = embedding if isinstance(embedding, nn.Module) else None
        #: Real samples in the reference, all processes together (set when training starts).
        self.num_real: int | None = None
        #: ``"validation"`` (end of validation epochs) or ``"train"`` (end of training epochs: no validation loop).
        self.evaluates_on: str | None = None
        #: Seconds of the last evaluation: ``generation``, ``embedding``, ``metric``, ``total`` (and ``audit``).
        self.last_timings: dict[str, float] = {}
        #: Seconds spent when training started: ``read_real``, ``fit_embedding`` (one-class, when it was
        #: fitted rather than restored from a checkpoint), ``embed_real``.
        self.setup_timings: dict[str, float] = {}
        #: Non-finite generated samples (summed over processes) in the last evaluation.
        self.last_num_nonfinite = 0
        #: One entry per evaluation: ``epoch``, ``step`` and the three values as floats (NaN if non-finite).
        self.history: list[dict[str, float | int]] = []
        #: The rows of the last audit (rank 0): view name -> indices (synthetic for copies/atypical, real for missed).
        self.last_audit: dict[str, list[int]] = {}
        self._embedding_state: dict[str, Tensor] | None = None
        self._real_shape: tuple[int, ...] | None = None
        self._real_rows: RealRows | None = None
        self._audits = False
        self._grid_shape: tuple[int, ...] | None = None
        self._dtype = torch.float32

    @property
    def _logged_keys(self) -> tuple[str, ...]:
        """The scalars, and their confidence bounds when ``confidence_level`` is set."""
        return SCALAR_KEYS if self.confidence_level is None else (*SCALAR_KEYS, *INTERVAL_KEYS)

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
        if is_overridden("validation_step", pl_module):
            data_source = getattr(trainer.fit_loop.epoch_loop.val_loop, "_data_source", None)
            has_val_data = data_source is None or data_source.is_defined()
            if not has_val_data or trainer.limit_val_batches == 0:
                why = "`limit_val_batches=0`" if has_val_data else "no validation data"
                raise MisconfigurationException(
                    f"FaithfulnessMonitor evaluates at the end of validation epochs, but {type(pl_module).__name__} "
                    f"has a `validation_step` and the Trainer has {why}, so no validation loop runs. Pass val "
                    f"dataloaders (1 batch is enough: `limit_val_batches=1`), or remove the `validation_step`: "
                    f"without one the monitor evaluates at the end of training epochs."
                )
            self.evaluates_on = "validation"
        else:
            if self.real == "val":
                raise MisconfigurationException(
                    f"FaithfulnessMonitor(real='val') reads the validation data, but {type(pl_module).__name__} has "
                    f"no `validation_step`, so the Trainer runs no validation loop. Use `real='train'` or pass the "
                    f"real reference explicitly: `real=<tensor or DataLoader>`."
                )
            self.evaluates_on = "train"
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
        with forked_rng(device):  # iterating a DataLoader draws its base seed from the global RNG
            read = read_reference(
                self.real,
                trainer,
                self.real_fn,
                max_real_samples=self.max_real_samples,
                seed=self.seed,
                batch_size=self.batch_size,
            )
        reference = read.samples
        self.setup_timings = {"read_real": time.perf_counter() - start}
        k = self._k
        if reference.shape[0] < k + 1:
            raise MisconfigurationException(
                f"FaithfulnessMonitor's real reference holds {reference.shape[0]} samples, but k = {k} needs at least "
                f"{k + 1} (each real sample's k nearest other real samples). Use more real data, a smaller "
                f"`k`, or a larger `max_real_samples`."
            )
        bad_rows = int((~torch.isfinite(flatten(reference))).any(dim=1).sum())
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
            self.embedding_module, self._embedding_state = fit_one_class(
                trainer,
                pl_module,
                flatten(reference).to(self._dtype),
                embedding_kwargs=self._embedding_kwargs,
                fit_kwargs=self._fit_kwargs,
                state=self._embedding_state,
                seed=self.seed,
                prefix=self.prefix,
                timings=self.setup_timings,
            )
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
            algorithm=self.algorithm,
            confidence_level=self.confidence_level,
            num_resamples=self.num_resamples,
            seed=self.seed,
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
        self._prepare_audit(trainer, read.rows, features, reference)
        del reference, local
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

    def _prepare_audit(self, trainer: pl.Trainer, rows: RealRows, features: Tensor, reference: Tensor) -> None:
        """Decide how the audit finds raw real samples again, and whether samples are shown as images."""
        self._real_rows = None
        # The same on every process: all of them take part in gathering the per-sample scores.
        self._audits = bool(self.audit_every_n_evaluations) and bool(tensorboard_loggers(trainer))
        if not self._audits or not trainer.is_global_zero:
            return
        if rows.needs_copy():
            if self.embedding is None and trainer.world_size == 1:
                rows.use_features(features, self._real_shape or ())  # the features are the flattened samples
            else:  # a stream seen through an embedding: the only way back to its raw samples is a copy
                rows.keep_copy(reference.clone())
        self._real_rows = rows
        from faithful.plotting import as_images

        probe = as_images(torch.zeros(1, *(self._real_shape or ())), self.image_shape or self.to_image)
        self._grid_shape = tuple(probe.shape[1:]) if probe is not None else None

    def _dry_run(self, pl_module: pl.LightningModule) -> Tensor:
        """Draw 2 samples (seeded, RNG forked) so a broken ``sample_fn`` fails before the first training step."""
        with forked_rng(pl_module.device):
            samples = draw(pl_module, self.sample_fn, 2, self.seed, 0)
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

    def _embed(self, samples: Tensor, device: torch.device) -> tuple[Tensor, int]:
        return embed(
            samples,
            self.embedding_module,
            flatten_input=self.embedding == "one-class",
            batch_size=self.batch_size,
            device=device,
            dtype=self._dtype,
        )

    # ------------------------------------------------------------------------------------------ evaluation

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.evaluates_on == "validation" and not trainer.sanity_checking:
            self._maybe_evaluate(trainer, pl_module)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # No validation loop: evaluate here. Non-monitoring callbacks run before EarlyStopping/ModelCheckpoint
        # in this hook, so both see this epoch's values.
        if self.evaluates_on == "train":
            self._maybe_evaluate(trainer, pl_module)

    def _maybe_evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn != TrainerFn.FITTING or self.metric is None:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self._evaluate(trainer, pl_module)

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.metric is not None and self.num_real is not None
        device = pl_module.device
        world_size, rank = trainer.world_size, trainer.global_rank
        total = self.num_samples if self.num_samples is not None else self.num_real
        sizes = batch_layout(total, self.batch_size)

        start = time.perf_counter()
        generation = embedding = 0.0
        features: list[Tensor] = []
        nonfinite = 0
        with forked_rng(device):
            # Batch i has its own seed and goes to process i % world_size: the union over processes is the set
            # one process draws, whatever the number of processes. Each batch is embedded at once, so only the
            # features (not the raw samples, e.g. images) of a whole evaluation are held in memory.
            for index in range(rank, len(sizes), world_size):
                tick = time.perf_counter()
                batch = draw(pl_module, self.sample_fn, sizes[index], self.seed, index)
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
        scores: dict[str, Tensor] | None = None
        audit = self._audits and len(self.history) % self.audit_every_n_evaluations == 0
        if nonfinite:
            rank_zero_warn(
                f"FaithfulnessMonitor(prefix={self.prefix!r}) at epoch {trainer.current_epoch}: {nonfinite} of "
                f"{total} generated samples hold NaN or inf (in the samples or their embedding); logging NaN for "
                f"{', '.join(self._name(key) for key in SCALAR_KEYS)}.",
                category=RuntimeWarning,
            )
            values = {key: torch.tensor(float("nan"), device=device) for key in self._logged_keys}
        else:
            if not features:  # more processes than generation batches: contribute an empty slice
                features = [torch.empty(0, self.metric_dim, device=device, dtype=self._dtype)]
            for chunk in features:
                self.metric.update(chunk, real=False)
            result = self.metric.compute()
            values = {key: result[key] for key in self._logged_keys}
            # A collective under DDP: every process asks, whether or not it logs (the result is memoised).
            if audit and self._audits:
                scores = self.metric.sample_scores()
        del features
        self.metric.reset()  # keeps the real side
        computed = time.perf_counter()

        for key, value in values.items():
            pl_module.log(self._name(key), value, on_step=False, on_epoch=True, sync_dist=False)
        if result is not None and self.log_curves and trainer.is_global_zero:
            log_curves(trainer, result, self._name("curves"))
        logged = time.perf_counter()
        if scores is not None and self._real_rows is not None and trainer.is_global_zero:
            self._audit(trainer, pl_module, scores, sizes)
        done = time.perf_counter()

        self.last_timings = {
            "generation": generation,
            "embedding": embedding,
            "metric": computed - embedded_at,
            "total": done - start,
        }
        if scores is not None and self._real_rows is not None and trainer.is_global_zero:
            self.last_timings["audit"] = done - logged
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

    def _audit(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, scores: dict[str, Tensor], sizes: list[int]
    ) -> None:
        """Fill the three views with raw samples (re-drawn / re-read, never kept) and log them (rank 0)."""
        from faithful.views import views

        assert self._real_rows is not None
        chosen = views(scores, self.num_audit_samples)
        generated = sorted({j for view in chosen[:2] for j in view.indices})
        # Re-drawn with the same seeds and weights; under DDP rank 0 draws every batch it needs itself.
        samples = redraw(pl_module, self.sample_fn, self.seed, sizes, trainer.world_size, generated)
        row_of = {j: row for row, j in enumerate(generated)}
        for view in chosen[:2]:
            view.samples = samples[[row_of[j] for j in view.indices]] if view.indices else None
        copies, missed = chosen[0], chosen[2]
        copies.neighbours = self._real_rows(copies.neighbour_indices or [])
        missed.samples = self._real_rows(missed.indices)
        self._check_redraw(copies, scores, pl_module.device)
        self.last_audit = {view.name: list(view.indices) for view in chosen}
        log_audit(trainer, scores, chosen, self.prefix, self.image_shape or self.to_image, self._grid_shape)

    def _check_redraw(self, copies: Any, scores: dict[str, Tensor], device: torch.device) -> None:
        """The shown pairs must be the measured ones: a non-reproducible ``sample``/dataset would show others."""
        if copies.samples is None or copies.neighbours is None or not copies.indices:
            return
        generated, _ = self._embed(copies.samples, device)
        real, _ = self._embed(copies.neighbours, device)
        measured = scores["distance_to_real"][copies.indices].to(device=device, dtype=torch.float64)
        shown = (generated.double() - real.double()).norm(dim=1)
        scale = generated.double().norm(dim=1) + real.double().norm(dim=1)
        if bool(((shown - measured).abs() > 1e-4 * scale + 1e-6).any()):
            rank_zero_warn(
                f"FaithfulnessMonitor(prefix={self.prefix!r}): the samples re-drawn for the audit views are not "
                f"the measured ones (distance {float(shown[0]):.6g} instead of {float(measured[0]):.6g}). The "
                f"generator must draw the same samples from the same `generator` in eval mode, and the dataset "
                f"must return the same item for the same index (no random transforms).",
                category=RuntimeWarning,
            )

    @property
    def metric_dim(self) -> int:
        """Dimension of the embedded real reference (after training started)."""
        assert self.metric is not None and self.metric.real_features
        return int(self.metric.real_features[0].shape[1])

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

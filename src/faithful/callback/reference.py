"""Reading the real reference of :class:`~faithful.callback.FaithfulnessMonitor`, bounded, and finding rows again.

The reference is read once when training starts, outside Lightning's (possibly distributed, shuffled) loader:

- **a map-style dataset** (it has ``__len__``): a plain, sequential, non-distributed ``DataLoader`` over the dataset
  (same ``collate_fn``), so every process sees every sample exactly once. With ``max_real_samples`` a seeded random
  subset of the *items* is chosen first and only those are read.
- **a stream** (an ``IterableDataset`` or any iterable of batches): read from the start and stopped at the first
  ``max_real_samples`` samples, or after ``limit_train_batches`` (``limit_val_batches`` for ``real="val"``)
  batches when the Trainer sets an integer limit, whichever comes first: the *first* N samples of the stream (shuffle
  the stream for a random subset; reservoir sampling would have to read an endless stream to its end). A stream
  without ``__len__`` and no bound is refused: it may never end.

Only the embedded reference is kept for the metric. The audit views show raw real samples again through a
:class:`RealRows`: by index into a tensor reference, by index into a map-style dataset (``dataset[i]``, collated and
passed through ``real_fn``), from the features themselves with the identity embedding, and only otherwise (a stream
seen through another embedding) from a CPU copy of the raw rows, bounded like the read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

__all__ = ["REAL_SOURCES", "RealFn", "RealRows", "Reference", "default_real_fn", "read_reference"]

#: Named real references (``real=...``); a tensor or a DataLoader/iterable of batches is accepted as well.
REAL_SOURCES = {
    "train": "the training data (trainer.train_dataloader's dataset): authenticity measures copying of it",
    "val": "the validation data (trainer.val_dataloaders' dataset)",
}

RealFn = Callable[[Any], Tensor]


def default_real_fn(batch: Any) -> Tensor:
    """The samples of a batch: the batch itself if it is a tensor, else the first element of a tuple/list batch.

    Raises:
        MisconfigurationException: for a dict batch or anything else it cannot read; the message says how to pass
            a ``real_fn``.

    Example:
        >>> import torch
        >>> from faithful.callback import default_real_fn
        >>> default_real_fn((torch.zeros(3, 2), torch.arange(3))).shape
        torch.Size([3, 2])
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


class RealRows:
    """Raw real samples by their index in the reference (the metric's ``nearest_real_index``)."""

    def __init__(
        self,
        *,
        tensor: Tensor | None = None,
        keep: Tensor | None = None,
        dataset: Any = None,
        items: Tensor | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        real_fn: RealFn | None = None,
    ) -> None:
        self._tensor = tensor
        self._keep = keep
        self._dataset = dataset
        self._items = items
        self._collate_fn = collate_fn
        self._real_fn = real_fn
        self._features: Tensor | None = None
        self._shape: tuple[int, ...] | None = None

    @property
    def source(self) -> str:
        """Where rows come from: ``"tensor"``, ``"dataset"``, ``"features"``, ``"copy"`` or ``"none"``."""
        if self._dataset is not None:
            return "dataset"
        if self._tensor is not None:
            return "tensor" if self._keep is not None else "copy"
        return "features" if self._features is not None else "none"

    def needs_copy(self) -> bool:
        """Whether raw rows cannot be found again (a stream): then a copy or the features must stand in."""
        return self._dataset is None and self._tensor is None

    def use_features(self, features: Tensor, shape: tuple[int, ...]) -> None:
        """With the identity embedding the embedded reference *is* the flattened raw reference."""
        self._features, self._shape = features, shape

    def keep_copy(self, samples: Tensor) -> None:
        self._tensor, self._keep = samples, None

    def __call__(self, indices: list[int]) -> Tensor | None:
        """The raw rows at ``indices`` (reference order), or ``None`` when they cannot be found."""
        if not indices:
            return None
        index = torch.tensor(indices, dtype=torch.long)
        if self._dataset is not None:
            assert self._items is not None and self._collate_fn is not None and self._real_fn is not None
            rows = []
            for item in self._items[index].tolist():
                rows.append(self._real_fn(self._collate_fn([self._dataset[item]]))[0].detach().cpu())
            return torch.stack(rows)
        if self._tensor is not None:
            return self._tensor[index if self._keep is None else self._keep[index]].detach().cpu()
        if self._features is not None and self._shape is not None:
            return self._features[index.to(self._features.device)].reshape(len(indices), *self._shape).cpu()
        return None


@dataclass
class Reference:
    """The real reference as read: its samples (CPU, float) and how to find raw rows again."""

    samples: Tensor
    rows: RealRows


def _loader_of(real: Any, trainer: pl.Trainer) -> Any:
    if not isinstance(real, str):
        return real
    if real == "train":
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
            f"FaithfulnessMonitor(real={real!r}) needs exactly one {real} dataloader, but the Trainer "
            f"has {got}. Pass the real reference explicitly: `FaithfulnessMonitor(real=<tensor or DataLoader>)`."
        )
    return loaders


def _has_len(obj: object) -> bool:
    try:
        len(obj)  # type: ignore[arg-type]
    except (TypeError, NotImplementedError):
        return False
    return True


def _batch_limit(real: Any, trainer: pl.Trainer, loader: Any) -> int | None:
    """Lightning's integer (or, for a sized loader, fractional) batch limit of the loader the reference comes from."""
    if not isinstance(real, str):
        return None
    limit = trainer.limit_train_batches if real == "train" else trainer.limit_val_batches
    if isinstance(limit, int):
        return limit
    if limit is not None and limit < 1.0 and _has_len(loader):
        return max(1, int(len(loader) * limit))
    return None


def _to_float(samples: Tensor) -> Tensor:
    if samples.is_complex() or samples.dtype == torch.bool:
        raise MisconfigurationException(
            f"FaithfulnessMonitor's real samples have dtype {samples.dtype}; they must be real numbers."
        )
    if not samples.is_floating_point() or samples.dtype in (torch.float16, torch.bfloat16):
        samples = samples.float()  # integers (e.g. uint8 images) and half precision: measure in float32
    return samples


def _seeded_subset(n: int, size: int | None, seed: int) -> Tensor | None:
    if size is None or n <= size:
        return None
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)[:size].sort().values


class _Reader:
    """Collects ``real_fn``'s rows batch by batch, with the checks and messages of every source."""

    def __init__(self, real: Any, real_fn: RealFn) -> None:
        self.name = real if isinstance(real, str) else "loader"
        self.real_fn = real_fn
        self.chunks: list[Tensor] = []
        self.rows = 0

    def add(self, index: int, batch: Any) -> Tensor:
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
        if self.chunks and x.shape[1:] != self.chunks[0].shape[1:]:
            raise MisconfigurationException(
                f"FaithfulnessMonitor read real samples of shape {tuple(self.chunks[0].shape[1:])} and then "
                f"{tuple(x.shape[1:])} (batch {index}); every real sample must have the same shape."
            )
        x = x.detach().cpu()
        self.chunks.append(x)
        self.rows += x.shape[0]
        return x

    def samples(self) -> Tensor:
        if not self.chunks:
            raise MisconfigurationException(
                f"FaithfulnessMonitor(real={self.name}) found no real batches. Give it data, or pass `real=<tensor>`."
            )
        return _to_float(torch.cat(self.chunks))


def _read_map_style(
    loader: DataLoader, real: Any, real_fn: RealFn, max_real_samples: int | None, seed: int, batch_size: int
) -> Reference:
    dataset = loader.dataset
    n = len(dataset)  # type: ignore[arg-type]
    subset = _seeded_subset(n, max_real_samples, seed)
    items = torch.arange(n) if subset is None else subset
    reader = _Reader(real, real_fn)
    automatic = loader.batch_sampler is not None
    size = (loader.batch_size or batch_size) if automatic else None
    order = items.tolist()
    # A sequential pass over the chosen items (a list is a sampler), with the loader's collate_fn and workers;
    # no DistributedSampler, whose padding would duplicate samples.
    plain = DataLoader(
        dataset,
        batch_size=size,
        sampler=order,
        drop_last=False,
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context if loader.num_workers else None,
    )
    one_row_per_item = True
    for index, batch in enumerate(plain):
        x = reader.add(index, batch)
        expected = 1 if size is None else min(size, len(order) - index * size)
        one_row_per_item &= x.shape[0] == expected
    samples = reader.samples()
    if not one_row_per_item:  # `real_fn` does not return one row per item: rows cannot be found by item
        keep = _seeded_subset(samples.shape[0], max_real_samples, seed)
        if keep is not None:
            samples = samples[keep]
        return Reference(samples, RealRows())
    collate = loader.collate_fn if automatic else _first_of_default_convert(loader.collate_fn)
    return Reference(samples, RealRows(dataset=dataset, items=items, collate_fn=collate, real_fn=real_fn))


def _first_of_default_convert(convert: Callable[[Any], Any]) -> Callable[[list[Any]], Any]:
    """With automatic batching off the loader converts one item; re-reading hands it a one-item list."""
    return lambda items: convert(items[0])


def _read_stream(
    iterable: Iterable[Any], real: Any, real_fn: RealFn, max_real_samples: int | None, max_batches: int | None
) -> Reference:
    if max_real_samples is None and max_batches is None and not _has_len(iterable):
        kind = type(getattr(iterable, "dataset", iterable)).__name__
        raise MisconfigurationException(
            f"FaithfulnessMonitor(real={real if isinstance(real, str) else 'loader'}) reads its real reference from "
            f"a {kind} without `__len__`: it may never end. Pass `FaithfulnessMonitor(max_real_samples=N)` (the "
            f"first N samples of the stream are kept) or set an integer `limit_train_batches` on the Trainer."
        )
    reader = _Reader(real, real_fn)
    for index, batch in enumerate(iterable):
        if max_batches is not None and index >= max_batches:
            break
        reader.add(index, batch)
        if max_real_samples is not None and reader.rows >= max_real_samples:
            break  # stop here: an endless stream must not be read further
    samples = reader.samples()
    if max_real_samples is not None:
        samples = samples[:max_real_samples]
    return Reference(samples, RealRows())


def read_reference(
    real: str | Tensor | Iterable[Any],
    trainer: pl.Trainer,
    real_fn: RealFn,
    *,
    max_real_samples: int | None,
    seed: int,
    batch_size: int,
) -> Reference:
    """Read the real reference (call inside a forked RNG: iterating a DataLoader draws from the global RNG)."""
    if isinstance(real, Tensor):
        tensor = real.detach()
        keep = _seeded_subset(tensor.shape[0], max_real_samples, seed)
        keep = torch.arange(tensor.shape[0]) if keep is None else keep
        samples = _to_float(tensor[keep].cpu())
        return Reference(samples, RealRows(tensor=tensor, keep=keep))
    loader = _loader_of(real, trainer)
    if isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset):
        return _read_map_style(loader, real, real_fn, max_real_samples, seed, batch_size)
    if isinstance(loader, DataLoader):  # an IterableDataset: a plain loader over it (no distributed wrapping)
        stream: Iterable[Any] = DataLoader(loader.dataset, batch_size=loader.batch_size, collate_fn=loader.collate_fn)
        max_batches = _batch_limit(real, trainer, loader)
    else:
        stream, max_batches = loader, None
    if max_batches is not None and max_batches < 0:
        max_batches = None
    if max_batches is not None and not math.isfinite(max_batches):
        max_batches = None
    return _read_stream(stream, real, real_fn, max_real_samples, max_batches)

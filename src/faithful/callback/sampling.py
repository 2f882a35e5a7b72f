"""Seeded generation for :class:`~faithful.callback.FaithfulnessMonitor`.

Every evaluation draws the same noise: generation batch ``i`` is seeded from ``(seed, i)``, whichever process draws
it, and the global RNG is restored afterwards, so training randomness is untouched. Because each batch has its own
seed, any batch can be drawn again on its own: the audit views re-draw only the batches that hold the samples they
show instead of keeping an evaluation's raw samples.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch import Tensor

__all__ = ["SampleFn", "batch_layout", "batch_seed", "draw", "forked_rng", "locate", "redraw"]

SampleFn = Callable[["pl.LightningModule", int, torch.Generator], Tensor]


def batch_seed(seed: int, index: int) -> int:
    """Seed of generation batch ``index``: independent streams per batch, the same whichever process draws it."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@contextmanager
def forked_rng(device: torch.device) -> Iterator[None]:
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


def batch_layout(total: int, batch_size: int) -> list[int]:
    """Sizes of the generation batches of one evaluation."""
    return [min(batch_size, total - start) for start in range(0, total, batch_size)]


def locate(sizes: list[int], world_size: int) -> list[tuple[int, int]]:
    """``(batch index, row in batch)`` of every synthetic sample, in the order the metric gathers them.

    Process ``r`` draws batches ``r, r + W, ...`` and the metric concatenates the processes' samples in rank order,
    so the gathered index ``j`` is not the generation order when ``W > 1``.
    """
    order = [index for rank in range(world_size) for index in range(rank, len(sizes), world_size)]
    return [(index, row) for index in order for row in range(sizes[index])]


def draw(pl_module: pl.LightningModule, sample_fn: SampleFn | None, n: int, seed: int, batch_index: int) -> Tensor:
    """Generation batch ``batch_index`` of ``n`` samples (call inside :func:`forked_rng`)."""
    device = pl_module.device
    seed = batch_seed(seed, batch_index)
    generator = torch.Generator(device=device).manual_seed(seed)
    _seed_global(seed, device)  # for a `sample` that ignores `generator` and draws from the global RNG
    was_training = pl_module.training
    pl_module.eval()
    try:
        with torch.no_grad():
            if sample_fn is not None:
                samples = sample_fn(pl_module, n, generator)
            else:
                sample = cast(Callable[..., Tensor], pl_module.sample)
                samples = sample(n, generator=generator) if _accepts_generator(sample) else sample(n)
    finally:
        pl_module.train(was_training)
    if not isinstance(samples, Tensor) or samples.ndim == 0 or samples.shape[0] != n:
        got = f"shape {tuple(samples.shape)}" if isinstance(samples, Tensor) else type(samples).__name__
        raise MisconfigurationException(
            f"FaithfulnessMonitor asked {'`sample_fn`' if sample_fn else '`pl_module.sample`'} for {n} "
            f"samples and got {got}; it must return a tensor of shape ({n}, ...)."
        )
    return samples.detach()


def redraw(
    pl_module: pl.LightningModule,
    sample_fn: SampleFn | None,
    seed: int,
    sizes: list[int],
    world_size: int,
    indices: list[int],
) -> Tensor:
    """The generated samples at gathered ``indices`` (in that order), re-drawing only the batches that hold them."""
    where = locate(sizes, world_size)
    wanted: dict[int, list[int]] = {}
    for index in indices:
        wanted.setdefault(where[index][0], []).append(where[index][1])
    rows: dict[tuple[int, int], Tensor] = {}
    with forked_rng(pl_module.device):
        for batch_index, batch_rows in wanted.items():
            batch = draw(pl_module, sample_fn, sizes[batch_index], seed, batch_index)
            for row in batch_rows:
                rows[(batch_index, row)] = batch[row].cpu()
            del batch  # one batch at a time: never a whole evaluation's raw samples
    return torch.stack([rows[where[index]] for index in indices]) if indices else torch.empty(0)

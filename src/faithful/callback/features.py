"""Embedding for :class:`~faithful.callback.FaithfulnessMonitor`: samples to feature vectors, and the one-class fit."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn

__all__ = ["embed", "fit_one_class", "flatten"]


def flatten(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1)


def embed(
    samples: Tensor,
    module: nn.Module | None,
    *,
    flatten_input: bool,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[Tensor, int]:
    """Embedded ``(N, d)`` features of ``samples`` and how many rows (raw or embedded) are non-finite.

    ``module=None`` is the identity (flattened samples); ``flatten_input`` flattens before the module (the
    one-class embedding takes vectors). The module runs in eval mode without gradients; its mode is restored.
    """
    outputs: list[Tensor] = []
    nonfinite = 0
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        for chunk in samples.split(batch_size) if samples.shape[0] else [samples]:
            chunk = chunk.to(device)
            if not chunk.is_floating_point() or chunk.dtype in (torch.float16, torch.bfloat16):
                chunk = chunk.float()
            bad = ~torch.isfinite(flatten(chunk)).all(dim=1)
            if module is None:
                features = flatten(chunk)
            else:
                with torch.no_grad():
                    features = flatten(module(flatten(chunk) if flatten_input else chunk))
            bad |= ~torch.isfinite(features).all(dim=1)
            nonfinite += int(bad.sum())
            outputs.append(features.to(dtype))
    finally:
        if module is not None:
            module.train(was_training)
    return torch.cat(outputs), nonfinite


def fit_one_class(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    reference: Tensor,
    *,
    embedding_kwargs: Mapping[str, Any],
    fit_kwargs: Mapping[str, Any],
    state: dict[str, Tensor] | None,
    seed: int,
    prefix: str,
    timings: dict[str, float],
) -> tuple[nn.Module, dict[str, Tensor]]:
    """The one-class embedding: ``state`` (from a checkpoint) when it fits, else fitted on rank 0 and broadcast."""
    from faithful.embedding import OneClassEmbedding

    device = pl_module.device
    embedding = OneClassEmbedding(reference.shape[1], **embedding_kwargs)
    if state is not None:
        try:
            embedding.load_state_dict(state)
        except (RuntimeError, KeyError) as err:  # a checkpoint of another configuration: refit
            rank_zero_warn(
                f"FaithfulnessMonitor(prefix={prefix!r}) could not reuse the one-class embedding saved in "
                f"the checkpoint ({err}); fitting a new one, so values are not comparable to the earlier run's."
            )
            state = None
    if state is None:
        kwargs = {
            "seed": seed,
            "device": device,
            "progress": trainer.is_global_zero and trainer.progress_bar_callback is not None,
            **fit_kwargs,
        }
        # Rank 0 fits and broadcasts: the instrument must be identical on every process, which two
        # independent fits guarantee on the CPU but not on every GPU.
        start = time.perf_counter()
        if trainer.is_global_zero:
            embedding.fit(reference, **kwargs)
            state = {key: value.cpu() for key, value in embedding.state_dict().items()}
        state = trainer.strategy.broadcast(state, src=0)
        timings["fit_embedding"] = time.perf_counter() - start
        assert state is not None
        embedding.load_state_dict(state)
    saved = {key: value.detach().cpu().clone() for key, value in embedding.state_dict().items()}
    embedding.to(device).eval().requires_grad_(False)
    return embedding, saved

"""Gathering sample rows across processes so that every process enters the same collectives.

torchmetrics' default ``gather_all_tensors`` stands in an empty 1-D tensor of the metric's default dtype for
a process that holds no samples. Next to a process holding an ``(n, d)`` float64 tensor, the processes then
exchange size vectors of different lengths and tensors of different dtypes, and gloo aborts (NCCL hangs).
:func:`gather_rows` first agrees on the row counts, the feature count and a common dtype (one small
collective), then gathers padded rows (a second collective, skipped by every process alike when no process
holds a row), so uneven and empty shards are fine.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from faithful.functional.apra import Shard

__all__ = ["gather_rows", "search_shard"]

# Dtype codes exchanged between processes (the index in this tuple).
_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def gather_rows(x: Tensor, group: Any = None) -> list[Tensor]:
    """Every process's ``(rows, d)`` tensor, in rank order, on every process (a ``dist_sync_fn``).

    ``x`` is a 2-D floating point tensor, or any tensor without elements for a process without samples.
    All non-empty tensors must have the same number of columns; they are promoted to one dtype.

    Raises:
        ValueError: on every process alike, when processes hold samples with different numbers of features.
    """
    group = dist.group.WORLD if group is None else group
    world_size = dist.get_world_size(group)
    empty = x.shape[0] == 0 if x.ndim == 2 else x.numel() == 0
    if not empty and (x.ndim != 2 or x.dtype not in _DTYPES):
        raise ValueError(
            f"Expected a 2-D floating point tensor of samples to gather, but got {x.dtype} of shape {tuple(x.shape)}."
        )
    rows, cols = (0, x.shape[1] if x.ndim == 2 else 0) if empty else tuple(x.shape)
    code = _DTYPES.index(x.dtype) if x.dtype in _DTYPES else -1
    meta = torch.tensor([rows, cols, code if rows else -1], dtype=torch.int64, device=x.device)
    metas = [torch.empty_like(meta) for _ in range(world_size)]
    dist.all_gather(metas, meta, group=group)
    table = torch.stack(metas).tolist()
    holding = [(r, c, d) for r, c, d in table if r > 0]
    columns = sorted({c for _, c, _ in holding})
    if len(columns) > 1:
        raise ValueError(
            "Expected every process to add samples with the same number of features, but the processes hold "
            f"(rows, features) {[(r, c) for r, c, _ in table]}."
        )
    if not holding:
        # Nobody holds a row: skip the data collective on every process alike.
        return [x.new_empty((0, columns[0] if columns else cols)) for _ in table]
    num_cols = columns[0]
    dtype = _DTYPES[0]
    for _, _, d in holding:
        dtype = torch.promote_types(dtype, _DTYPES[d])
    max_rows = max(r for r, _, _ in holding)
    padded = torch.zeros(max_rows, num_cols, dtype=dtype, device=x.device)
    if rows:
        padded[:rows] = x
    gathered = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(gathered, padded, group=group)
    return [g[:r] for g, (r, _, _) in zip(gathered, table, strict=True)]


def search_shard(group: Any = None) -> Shard | None:
    """This process's part of a neighbour search shared by the processes of ``group`` (None: not distributed).

    Only for sets that every process of the group holds alike (the metric's states after a sync).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return None
    group = dist.group.WORLD if group is None else group
    world_size = dist.get_world_size(group)
    if world_size < 2:
        return None

    def all_gather(t: Tensor) -> list[Tensor]:
        out = [torch.empty_like(t) for _ in range(world_size)]
        dist.all_gather(out, t, group=group)
        return out

    return Shard(dist.get_rank(group), world_size, all_gather)

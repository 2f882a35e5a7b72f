"""Coarse-grained CPU parallelism that survives a busy machine.

Torch parallelises every operation on its own (one OpenMP region per op). A tiled search issues thousands of
small ops, and each region ends at a barrier that waits for its slowest thread: when another process holds one of
the cores, every op waits for a descheduled thread, and the search runs ten times slower than on one thread.
Instead, the work is cut into independent pieces (row bands, query blocks) pulled by a few Python threads from a
shared queue, each running torch on *one* intra-op thread (torch releases the GIL inside its kernels). A thread
that loses its core simply takes fewer pieces; there is no barrier until the end.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

__all__ = ["available_threads", "in_blocks", "intra_op_threads", "map_pieces", "num_workers"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_R = TypeVar("_R")
# torch.set_num_threads is process-wide: nested or concurrent scopes must not restore each other's values, so a
# scope holds this lock while it runs (scopes entered from different threads run one after another).
_LOCK = threading.RLock()
# torch's thread count before the outermost scope: what the worker threads may use inside it.
_available: int | None = None


def available_threads() -> int:
    """CPU threads the work may use: torch's thread count (as it was before any ``intra_op_threads`` scope)."""
    return _available if _available is not None else torch.get_num_threads()


@contextlib.contextmanager
def intra_op_threads(num: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num)``; the previous value is restored afterwards.

    The setting is process-wide (other threads of the process see it while the block runs).
    """
    global _available
    with _LOCK:
        before, outer = torch.get_num_threads(), _available
        if outer is None:
            _available = before
        try:
            if num != before:
                torch.set_num_threads(num)
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
            _available = outer


def num_workers(num_pieces: int, available: int | None = None) -> int:
    """Worker threads for ``num_pieces`` independent pieces: at most the available threads, one per piece."""
    available = available_threads() if available is None else available
    return max(1, min(available, num_pieces))


def map_pieces(
    work: Callable[[Callable[[], _T | None]], _R], pieces: Sequence[_T], workers: int, device: torch.device
) -> list[_R]:
    """Run ``work(take)`` in ``workers`` threads; ``take()`` hands out the next piece (``None`` when none is left).

    Each call of ``work`` keeps its own state across the pieces it takes and returns it; the caller merges the
    returned states. On a CUDA device (or with one worker) ``work`` runs once in the calling thread: the GPU
    needs no CPU threads, and torch's own threads are left as they are.
    """
    lock = threading.Lock()
    queue = list(reversed(pieces))

    def take() -> _T | None:
        with lock:
            return queue.pop() if queue else None

    if workers <= 1 or device.type != "cpu":
        return [work(take)]
    with intra_op_threads(1), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(work, take) for _ in range(workers)]
        return [future.result() for future in futures]


def in_blocks(num_rows: int, block: int, workers: int, run: Callable[[int], None]) -> None:
    """``run(start)`` for every block ``[start, start + block)`` of ``num_rows`` rows, on up to ``workers`` threads
    pulling blocks as they go (for kernels that release the GIL: cKDTree queries, the compiled grid search)."""
    starts = range(0, num_rows, block)
    threads = max(1, min(workers, len(starts)))
    if threads == 1:
        for start in starts:
            run(start)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, starts))

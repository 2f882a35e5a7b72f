"""The metric's compute under torch.distributed: 1 process against W gloo processes, one thread each.

Every process holds a contiguous shard of the real and synthetic embeddings (as a DistributedSampler would give),
calls ``update`` with it and then ``compute()``; torchmetrics gathers the states and the metric shares the
neighbour search among the processes. The script reports, per configuration:

- the wall time of ``compute()`` (the slowest process; best of ``--repeats``), for 1 process and for W processes,
  and their ratio;
- the per-epoch ``compute()`` (``reset_real_features=False``: the real side cached, a new synthetic set);
- the extra peak resident memory of one process during the first compute;
- whether the W-process results equal the 1-process results bit for bit (scalars and per-sample flags).

    python benchmarks/bench_ddp.py                       # n = m = 20,000, d in {16, 128}, W = 2
    python benchmarks/bench_ddp.py --quick               # seconds: a smoke run

No timing is asserted anywhere; the goal (W = 2: <= 0.6x the 1-process time) is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import sys
import tempfile
import time
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SCALARS = ("alpha_precision", "beta_recall", "authenticity")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _data(n: int, d: int, seed: int, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=gen)
    synthetic = torch.randn(n, d, generator=gen) + shift
    return real, synthetic


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed_compute(metric: Any, distributed: bool) -> tuple[dict[str, torch.Tensor], float]:
    """``metric.compute()`` and its wall time, between barriers (the slowest process sets the time)."""
    if distributed:
        dist.barrier()
    start = time.perf_counter()
    result = metric.compute()
    if distributed:
        dist.barrier()
    return result, time.perf_counter() - start


def _worker(rank: int, world_size: int, port: int, config: dict[str, Any], out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    distributed = world_size > 1
    if distributed:
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        from faithful import AlphaPrecisionBetaRecallAuthenticity

        n, d, repeats = config["n"], config["d"], config["repeats"]
        real, synthetic = _data(n, d, seed=0)
        _, second_synthetic = _data(n, d, seed=1, shift=0.1)
        shard = slice(*_bounds(n, world_size, rank))
        first_times, epoch_times = [], []
        result: dict[str, Any] = {}
        rss_before = _rss_mb()
        for _ in range(repeats):
            metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False, sync_on_compute=distributed)
            metric.update(real[shard], real=True)
            metric.update(synthetic[shard], real=False)
            first, seconds = _timed_compute(metric, distributed)
            first_times.append(seconds)
            scores = metric.sample_scores()
            metric.reset()
            metric.update(second_synthetic[shard], real=False)
            second, seconds = _timed_compute(metric, distributed)
            epoch_times.append(seconds)
            result = {"first": first, "scores": scores, "second": second}
        result["first_time"] = min(first_times)
        result["epoch_time"] = min(epoch_times)
        result["extra_rss_mb"] = _rss_mb() - rss_before
        torch.save(result, f"{out}.{rank}")
    finally:
        if distributed:
            dist.destroy_process_group()


def _bounds(n: int, world_size: int, rank: int) -> tuple[int, int]:
    size, extra = divmod(n, world_size)
    start = rank * size + min(rank, extra)
    return start, start + size + (1 if rank < extra else 0)


def _run(world_size: int, config: dict[str, Any]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result")
        mp.start_processes(
            _worker, args=(world_size, _free_port(), config, out), nprocs=world_size, start_method="spawn"
        )
        return [torch.load(f"{out}.{rank}") for rank in range(world_size)]


def _identical(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(torch.equal(a[part][key], b[part][key]) for part in ("first", "scores", "second") for key in a[part])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="real = synthetic samples (default 20,000)")
    parser.add_argument("--d", type=int, nargs="+", default=[16, 128], help="dimensions (default 16 128)")
    parser.add_argument("--world-size", type=int, default=2, help="processes of the distributed run (default 2)")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many computes (default 2)")
    parser.add_argument("--quick", action="store_true", help="n = 1,500, d = 8, one repeat: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.d, args.repeats = 1_500, [8], 1

    import faithful

    print(f"faithful {faithful.__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
    print(f"{os.cpu_count()} logical cores; every process runs one thread (torch.set_num_threads(1)); gloo backend")
    print()
    print(
        "| n = m | d | processes | first compute (s) | ratio | per-epoch compute (s) | ratio "
        "| extra peak RSS per process (MB) | identical to 1 process |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    goals = []
    for d in args.d:
        config = {"n": args.n, "d": d, "repeats": args.repeats}
        single = _run(1, config)[0]
        shared = _run(args.world_size, config)
        first = max(r["first_time"] for r in shared)
        epoch = max(r["epoch_time"] for r in shared)
        rss = max(r["extra_rss_mb"] for r in shared)
        same = all(_identical(r, single) for r in shared)
        print(
            f"| {args.n:,} | {d} | 1 | {single['first_time']:.3f} | – | {single['epoch_time']:.3f} | – "
            f"| {single['extra_rss_mb']:.0f} | – |"
        )
        ratio_first = first / single["first_time"]
        ratio_epoch = epoch / single["epoch_time"]
        print(
            f"| {args.n:,} | {d} | {args.world_size} | {first:.3f} | {ratio_first:.2f}× | {epoch:.3f} "
            f"| {ratio_epoch:.2f}× | {rss:.0f} | {'yes' if same else 'NO'} |"
        )
        goals.append((d, ratio_first, same))
    print()
    if args.world_size == 2:
        print(f"Goal: {args.world_size} processes x 1 thread <= 0.6x the time of 1 process x 1 thread, identical:")
        for d, ratio, same in goals:
            met = "met" if ratio <= 0.6 and same else "MISSED"
            print(f"- d = {d}: {ratio:.2f}x, {'identical' if same else 'DIFFERENT'} ({met})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cost of the confidence intervals: one compute with and without ``confidence_level``, side by side.

For each size the two calls alternate ``--repeats`` times (so a busy machine slows both alike) and the
table shows the median wall times and their ratio. Default: n = m = 2000, d = 64 (the goal: intervals at
most 10x one compute) and n = m = 300, d = 4, with the default 200 half-sample replicates and 1000.

    python benchmarks/bench_intervals.py [--repeats 5] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from faithful.functional import alpha_precision_beta_recall_authenticity


def _time(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="one tiny size (a smoke test)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = [(200, 4, (50,))] if args.quick else [(2000, 64, (200, 1000)), (300, 4, (200, 1000))]
    print(f"threads: {args.threads}, repeats: {args.repeats} (medians)\n")
    print("| n = m | d | replicates | compute (s) | compute + intervals (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for size, d, replicate_counts in settings:
        gen = torch.Generator().manual_seed(0)
        real, synthetic = torch.randn(size, d, generator=gen), torch.randn(size, d, generator=gen) + 0.3
        alpha_precision_beta_recall_authenticity(real, synthetic, confidence_level=0.95, num_resamples=10)  # warm-up
        for replicates in replicate_counts:
            plain, with_intervals = [], []
            for _ in range(args.repeats):
                plain.append(_time(lambda r=real, s=synthetic: alpha_precision_beta_recall_authenticity(r, s)))
                with_intervals.append(
                    _time(
                        lambda r=real, s=synthetic, b=replicates: alpha_precision_beta_recall_authenticity(
                            r, s, confidence_level=0.95, num_resamples=b
                        )
                    )
                )
            base, total = statistics.median(plain), statistics.median(with_intervals)
            print(f"| {size} | {d} | {replicates} | {base:.3f} | {total:.3f} | {total / base:.1f} |")


if __name__ == "__main__":
    main()

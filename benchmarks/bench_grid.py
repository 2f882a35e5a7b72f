"""``algorithm="kd_tree"`` at d <= 4: the grid of cells against scipy's tree, side by side in one process.

Both are exact and give the same bits; this measures what the grid (``faithful/functional/_grid.py``, numba) saves
over the cKDTree path it replaces. One full functional compute per call (first compute: both sides searched), the
two variants interleaved, best of ``--repeats``; Gaussian data, synthetic shifted by 0.1, k = 5.

    python benchmarks/bench_grid.py [--sizes 20000,100000] [--dims 2,3,4] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from faithful.functional import _grid, _kernels, alpha_precision_beta_recall_authenticity


def _time(real: torch.Tensor, synthetic: torch.Tensor, grid: bool) -> float:
    build = _grid.build
    if not grid:  # the tree path: the grid declines every set
        _grid.build = lambda data: None  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        alpha_precision_beta_recall_authenticity(real, synthetic, algorithm="kd_tree")
        return time.perf_counter() - start
    finally:
        _grid.build = build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000", help="n = m values")
    parser.add_argument("--dims", default="2,3,4", help="dimensions (at most 4)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one tiny size (a smoke test)")
    args = parser.parse_args(argv)
    if not _kernels.AVAILABLE:
        raise SystemExit("The grid needs numba: pip install 'lightning-faithful[fast]'.")
    sizes = [500] if args.quick else [int(x) for x in args.sizes.split(",")]
    dims = [int(x) for x in args.dims.split(",")]
    warnings.filterwarnings("ignore", message=".*exact duplicate.*")  # ties in low-d Gaussian data
    print("| n = m | d | grid (s) | tree (s) | grid / tree |")
    print("|---:|---:|---:|---:|---:|")
    for size in sizes:
        for dim in dims:
            gen = torch.Generator().manual_seed(dim)
            real = torch.randn(size, dim, generator=gen)
            synthetic = torch.randn(size, dim, generator=gen) + 0.1
            _time(real, synthetic, True), _time(real, synthetic, False)  # warm-up (numba's first call compiles)
            grid, tree = [], []
            for _ in range(args.repeats):
                grid.append(_time(real, synthetic, True))
                tree.append(_time(real, synthetic, False))
            best_grid, best_tree = min(grid), min(tree)
            print(
                f"| {size:,} | {dim} | {best_grid:.3f} | {best_tree:.3f} | {best_grid / best_tree:.2f}× |", flush=True
            )


if __name__ == "__main__":
    main()

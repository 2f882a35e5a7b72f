"""The ``kd_tree`` algorithm's compiled tree against scipy's ``cKDTree`` and against ``brute``, side by side.

All three are exact and give the same bits. One full functional compute per call (first compute: both sides
searched), the variants interleaved, best of ``--repeats``; Gaussian data, synthetic shifted by 0.1, k = 5. The
compiled tree (``faithful/functional/_ctree.py``) needs numba; *cKDTree* is the ``kd_tree`` path without it. The
``auto`` rule's crossovers (``faithful/functional/apra.py``) come from this table.

    python benchmarks/bench_trees.py [--sizes 20000,100000] [--dims 6,8,10,12] [--repeats 2] [--no-ckdtree]
        [--no-brute]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from faithful.functional import _ctree, _kernels, alpha_precision_beta_recall_authenticity


def _time(real: torch.Tensor, synthetic: torch.Tensor, variant: str) -> float:
    build = _ctree.build
    if variant == "cKDTree":  # the kd_tree path without the compiled tree
        _ctree.build = lambda data: None  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        alpha_precision_beta_recall_authenticity(
            real, synthetic, algorithm="brute" if variant == "brute" else "kd_tree"
        )
        return time.perf_counter() - start
    finally:
        _ctree.build = build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000", help="n = m values")
    parser.add_argument("--dims", default="6,8,10,12", help="dimensions")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ckdtree", action="store_true", help="skip scipy's tree (slow at large n)")
    parser.add_argument("--no-brute", action="store_true", help="skip the brute force (O(n^2): slow at 10^6)")
    parser.add_argument("--quick", action="store_true", help="one tiny size (a smoke test)")
    args = parser.parse_args(argv)
    if not _kernels.AVAILABLE:
        raise SystemExit("The compiled tree needs numba: pip install 'lightning-faithful[fast]'.")
    sizes = [500] if args.quick else [int(x) for x in args.sizes.split(",")]
    dims = [int(x) for x in args.dims.split(",")]
    variants = ["compiled"] + ["cKDTree"] * (not args.no_ckdtree) + ["brute"] * (not args.no_brute)
    ratios = [v for v in variants if v != "compiled"]
    warnings.filterwarnings("ignore", message=".*exact duplicate.*")  # ties in low-d Gaussian data
    warm = torch.randn(300, 8)
    for variant in variants:  # numba's first call compiles (or loads its cache)
        _time(warm, warm + 0.1, variant)
    columns = [f"{v} (s)" for v in variants] + [f"compiled / {v}" for v in ratios]
    print("| n = m | d | " + " | ".join(columns) + " | faster |")
    print("|---:|---:|" + "---:|" * len(columns) + "---|")
    for size in sizes:
        for dim in dims:
            gen = torch.Generator().manual_seed(dim)
            real = torch.randn(size, dim, generator=gen)
            synthetic = torch.randn(size, dim, generator=gen) + 0.1
            times: dict[str, list[float]] = {v: [] for v in variants}
            for _ in range(args.repeats):
                for variant in variants:
                    times[variant].append(_time(real, synthetic, variant))
            best = {v: min(t) for v, t in times.items()}
            fastest = min(best, key=best.__getitem__)
            cells = " | ".join(f"{best[v]:.3f}" for v in variants)
            shares = "".join(f" | {best['compiled'] / best[v]:.2f}×" for v in ratios)
            print(f"| {size:,} | {dim} | {cells}{shares} | {fastest} |", flush=True)


if __name__ == "__main__":
    main()

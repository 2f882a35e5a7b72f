"""α-precision, β-recall and authenticity three ways, side by side, on identical data in one process.

- **reference approach**: the estimator computed the way the authors' code does it: scikit-learn
  ``NearestNeighbors(n_jobs=-1)`` (default algorithm) for real -> real (k + 1 neighbours, self column dropped),
  real -> synthetic and synthetic -> real (1 neighbour each), numpy quantiles for the α/β radii, the curves on a
  grid and their Riemann sums;
- **faiss**: the same three searches with an exact ``faiss.IndexFlatL2`` (threads = the machine's cores) and the
  same numpy post-processing (column skipped when faiss, the optional ``bench`` extra, is not installed);
- **faithful**: ``alpha_precision_beta_recall_authenticity`` (first compute: real and synthetic side), the metric's
  first ``compute()``, and the metric's per-epoch ``compute()`` with the real side cached
  (``reset_real_features=False``: update real once, compute, reset, update new synthetic samples, compute again).

Wall times are the best of ``--repeats`` runs (methods interleaved, so load from other processes hits all of them
alike). Peak memory is the extra resident memory (RSS) of one run in a fresh child process: the peak during the
run minus the resident memory just before it (data already in memory, libraries warmed up).

    python benchmarks/bench_neighbors.py                  # the documented table (several minutes on 2 cores)
    python benchmarks/bench_neighbors.py --n 20000 --d 128 --no-large --no-memory
    python benchmarks/bench_neighbors.py --quick          # seconds: a smoke run of every code path
    python benchmarks/bench_neighbors.py --no-large --no-memory --sweep-n 20000 --sweep-d 2,8,32 --no-million

The dimension sweep (issue 10) times the estimator's three searches plus the numpy post-processing four ways
(scikit-learn's default ``NearestNeighbors``, faiss ``IndexFlatL2``, ``scipy.spatial.cKDTree`` used directly,
faithful's functional API with ``algorithm="auto"``) at every d of ``--sweep-d`` and every n = m of
``--sweep-n`` (sizes above 20,000 only for d <= 16), first on an idle machine and then with one core busy: the
script itself starts a process spinning on one core and stops it afterwards. n = m = 1,000,000 at d = 8 runs
faithful alone (``--no-million`` skips it).

Prints the machine, the library versions and Markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

# torch before scikit-learn: when scikit-learn's OpenMP runtime is loaded first and faiss is installed, faiss's
# OpenMP-threaded OpenBLAS binds to that same runtime and scikit-learn's neighbour search then runs on a single
# thread (twice as slow here). With torch's runtime loaded first they stay apart and the reference runs at full speed.
import torch

# isort: split
import numpy as np
import sklearn
from scipy.spatial import cKDTree
from sklearn.neighbors import NearestNeighbors

import faithful
from faithful import AlphaPrecisionBetaRecallAuthenticity
from faithful.functional import _kernels, alpha_precision_beta_recall_authenticity

try:
    import faiss
except ImportError:  # the optional `bench` extra
    faiss = None

SCALARS = ("alpha_precision", "beta_recall", "authenticity")
NUM_THRESHOLDS = 101


# ------------------------------------------------------------------------------------------------------ data


def make_data(n: int, m: int, d: int, kind: str, seed: int, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 real (n, d) and synthetic (m, d) samples; ``shift`` draws another synthetic set.

    ``gauss``: real ~ N(0, I), synthetic ~ N(0.05, 0.95^2 I). ``mixture``: 10 unit Gaussian components with
    centers ~ N(0, 16 I); the synthetic set drops 3 of them (a mode-dropping generator).
    """
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d), dtype=np.float32)
    rng_synthetic = np.random.default_rng([seed, 1 + shift])
    synthetic = rng_synthetic.standard_normal((m, d), dtype=np.float32)
    if kind == "gauss":
        synthetic *= np.float32(0.95)
        synthetic += np.float32(0.05)
    elif kind == "mixture":
        centers = np.float32(4.0) * rng.standard_normal((10, d), dtype=np.float32)
        real += centers[rng.integers(0, 10, n)]
        synthetic += centers[rng_synthetic.integers(0, 7, m)]
    else:
        raise ValueError(f"Expected `kind` to be 'gauss' or 'mixture', but got {kind!r}.")
    return real, synthetic


# --------------------------------------------------------------------------------- reference and faiss paths


def _scores_from_neighbors(
    real: np.ndarray,
    synthetic: np.ndarray,
    nnd: np.ndarray,
    real_to_synthetic: np.ndarray,
    real_to_synthetic_index: np.ndarray,
    synthetic_to_real: np.ndarray,
    synthetic_to_real_index: np.ndarray,
    k: int,
) -> dict[str, float]:
    """The authors' numpy post-processing (quantile radii, curves on a grid, Riemann sums) for the paper protocol.

    ``nnd``: (n, k) distances to the k nearest other real samples; the rest are 1-NN distances and indices.
    """
    grid = np.linspace(0.0, 1.0, NUM_THRESHOLDS)
    center = real.mean(axis=0, dtype=np.float64)
    radii = np.quantile(np.linalg.norm(real - center, axis=1), grid)
    synthetic_to_center = np.linalg.norm(synthetic - center, axis=1)
    alpha_curve = (synthetic_to_center[None, :] <= radii[:, None]).mean(axis=1)
    synthetic_center = synthetic.mean(axis=0, dtype=np.float64)
    synthetic_to_own_center = np.linalg.norm(synthetic - synthetic_center, axis=1)
    beta_radii = np.quantile(synthetic_to_own_center, grid)
    in_ball = real_to_synthetic <= nnd[:, k - 1]
    matched = synthetic_to_own_center[real_to_synthetic_index]
    beta_curve = (in_ball[None, :] & (matched[None, :] <= beta_radii[:, None])).mean(axis=1)
    authentic = synthetic_to_real > nnd[synthetic_to_real_index, 0]
    step = grid[1] - grid[0]
    return {
        "alpha_precision": float(1.0 - 2.0 * step * np.abs(alpha_curve - grid).sum()),
        "beta_recall": float(1.0 - 2.0 * step * np.abs(beta_curve - grid).sum()),
        "authenticity": float(authentic.mean()),
    }


def reference_approach(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, float]:
    """scikit-learn ``NearestNeighbors`` as in the authors' code, for the same estimator (k, β-radius over all m)."""
    real_index = NearestNeighbors(n_neighbors=k + 1, n_jobs=-1, p=2).fit(real)
    real_to_real, _ = real_index.kneighbors(real)
    synthetic_index = NearestNeighbors(n_neighbors=1, n_jobs=-1, p=2).fit(synthetic)
    real_to_synthetic, real_to_synthetic_index = synthetic_index.kneighbors(real)
    synthetic_to_real, synthetic_to_real_index = real_index.kneighbors(synthetic, n_neighbors=1)
    return _scores_from_neighbors(
        real,
        synthetic,
        real_to_real[:, 1:],  # drop the self column, as the authors do
        real_to_synthetic[:, 0],
        real_to_synthetic_index[:, 0],
        synthetic_to_real[:, 0],
        synthetic_to_real_index[:, 0],
        k,
    )


def faiss_approach(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, float]:
    """Exact ``faiss.IndexFlatL2`` for the same three searches, then the same numpy post-processing."""
    d = real.shape[1]
    real_index = faiss.IndexFlatL2(d)
    real_index.add(real)
    real_to_real, _ = real_index.search(real, k + 1)
    synthetic_index = faiss.IndexFlatL2(d)
    synthetic_index.add(synthetic)
    real_to_synthetic, real_to_synthetic_index = synthetic_index.search(real, 1)
    synthetic_to_real, synthetic_to_real_index = real_index.search(synthetic, 1)
    return _scores_from_neighbors(
        real,
        synthetic,
        np.sqrt(np.maximum(real_to_real[:, 1:], 0.0)),
        np.sqrt(np.maximum(real_to_synthetic[:, 0], 0.0)),
        real_to_synthetic_index[:, 0],
        np.sqrt(np.maximum(synthetic_to_real[:, 0], 0.0)),
        synthetic_to_real_index[:, 0],
        k,
    )


def ckdtree_approach(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, float]:
    """``scipy.spatial.cKDTree`` used directly (all cores) for the three searches, same post-processing."""
    real64, synthetic64 = real.astype(np.float64), synthetic.astype(np.float64)
    real_tree, synthetic_tree = cKDTree(real64), cKDTree(synthetic64)
    real_to_real, _ = real_tree.query(real64, k=k + 1, workers=-1)
    real_to_synthetic, real_to_synthetic_index = synthetic_tree.query(real64, k=1, workers=-1)
    synthetic_to_real, synthetic_to_real_index = real_tree.query(synthetic64, k=1, workers=-1)
    return _scores_from_neighbors(
        real,
        synthetic,
        real_to_real[:, 1:],
        real_to_synthetic,
        real_to_synthetic_index,
        synthetic_to_real,
        synthetic_to_real_index,
        k,
    )


# ---------------------------------------------------------------------------------------------- our paths


def faithful_functional(real: torch.Tensor, synthetic: torch.Tensor, k: int) -> dict[str, float]:
    result = alpha_precision_beta_recall_authenticity(real, synthetic, k=k)
    return {key: result[key].item() for key in SCALARS}


def faithful_metric_first(real: torch.Tensor, synthetic: torch.Tensor, k: int) -> AlphaPrecisionBetaRecallAuthenticity:
    metric = AlphaPrecisionBetaRecallAuthenticity(k=k, reset_real_features=False)
    metric.update(real, real=True)
    metric.update(synthetic, real=False)
    metric.compute()
    return metric


def faithful_metric_epoch(metric: AlphaPrecisionBetaRecallAuthenticity, synthetic: torch.Tensor) -> dict[str, float]:
    metric.reset()
    metric.update(synthetic, real=False)
    result = metric.compute()
    return {key: result[key].item() for key in SCALARS}


# ------------------------------------------------------------------------------------------------- timing


@dataclass
class Row:
    method: str
    times: list[float] = field(default_factory=list)
    scores: dict[str, float] | None = None
    extra_rss_mb: float | None = None

    @property
    def best(self) -> float:
        return min(self.times)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_config(
    n: int, m: int, d: int, args: argparse.Namespace, with_reference: bool, with_faiss: bool, repeats: int
) -> list[Row]:
    """Time every method on the same data, interleaving the repeats."""
    real_np, synthetic_np = make_data(n, m, d, args.data, args.seed)
    # Every "epoch" sees new synthetic samples (else the metric would serve its memoised result).
    epochs = [make_data(0, m, d, args.data, args.seed, shift=1 + e)[1] for e in range(repeats)]
    real, synthetic = torch.from_numpy(real_np), torch.from_numpy(synthetic_np)
    rows: dict[str, Row] = {}
    if with_reference:
        rows["reference"] = Row("reference approach (scikit-learn)")
    if with_faiss:
        rows["faiss"] = Row("faiss IndexFlatL2")
    rows["functional"] = Row("faithful, first compute (functional)")
    rows["metric_first"] = Row("faithful, metric first compute")
    rows["metric_epoch"] = Row("faithful, metric per-epoch compute (real side cached)")
    _warm_up(args.k, d)
    for repeat in range(repeats):
        epoch_synthetic = torch.from_numpy(epochs[repeat])
        runs: list[tuple[str, Callable[[], Any]]] = []
        if with_reference:
            runs.append(("reference", lambda: reference_approach(real_np, synthetic_np, args.k)))
        if with_faiss:
            runs.append(("faiss", lambda: faiss_approach(real_np, synthetic_np, args.k)))
        runs.append(("functional", lambda: faithful_functional(real, synthetic, args.k)))
        for key, run in runs:
            elapsed, rows[key].scores = _timed(run)
            rows[key].times.append(elapsed)
        elapsed, metric = _timed(lambda: faithful_metric_first(real, synthetic, args.k))
        rows["metric_first"].times.append(elapsed)
        rows["metric_first"].scores = rows["functional"].scores
        elapsed, rows["metric_epoch"].scores = _timed(partial(faithful_metric_epoch, metric, epoch_synthetic))
        rows["metric_epoch"].times.append(elapsed)
    if args.memory_children:
        for key in ("reference", "faiss", "functional"):
            if key in rows:
                rows[key].extra_rss_mb = measure_memory(key, n, m, d, args)
    return list(rows.values())


def _warm_up(k: int, d: int) -> None:
    """One tiny run of every path: thread pools, BLAS buffers and imports are not part of the timings."""
    real_np, synthetic_np = make_data(64, 48, d, "gauss", 0)
    reference_approach(real_np, synthetic_np, k)
    if faiss is not None:
        faiss_approach(real_np, synthetic_np, k)
    metric = faithful_metric_first(torch.from_numpy(real_np), torch.from_numpy(synthetic_np), k)
    faithful_metric_epoch(metric, torch.from_numpy(synthetic_np[::-1].copy()))


# ------------------------------------------------------------------------------------------------- memory


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(method: str, n: int, m: int, d: int, k: int, kind: str, seed: int) -> dict[str, float]:
    """Runs in a fresh process: the extra resident memory of one run of ``method`` (MB)."""
    real_np, synthetic_np = make_data(n, m, d, kind, seed)
    real, synthetic = torch.from_numpy(real_np), torch.from_numpy(synthetic_np)
    _warm_up(k, d)
    runs: dict[str, Callable[[], Any]] = {
        "reference": lambda: reference_approach(real_np, synthetic_np, k),
        "faiss": lambda: faiss_approach(real_np, synthetic_np, k),
        "functional": lambda: faithful_functional(real, synthetic, k),
        "functional_auto": lambda: _faithful_auto(real, synthetic, k),
    }
    before = _current_rss_mb()
    if not _reset_peak_rss():  # fall back to the lifetime peak: only valid when nothing before peaked higher
        before = max(before, _peak_rss_mb())
    runs[method]()
    return {"extra_rss_mb": _peak_rss_mb() - before, "data_mb": (real_np.nbytes + synthetic_np.nbytes) / 2**20}


def measure_memory(method: str, n: int, m: int, d: int, args: argparse.Namespace) -> float | None:
    command = [sys.executable, os.path.abspath(__file__), "--memory-child", method]
    command += ["--n", str(n), "--m", str(m), "--d", str(d), "--k", str(args.k), "--data", args.data]
    command += ["--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"memory measurement of {method} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["extra_rss_mb"])


def memory_model_mb(n: int, m: int, d: int) -> dict[str, float]:
    """What one functional compute should hold besides its inputs: tiles, O((n + m) d) copies, never n x m."""
    from faithful.functional import neighbors

    tile = min(neighbors._TILE, n) * min(neighbors._TILE, max(n, m))
    return {
        # float32 tile + bool mask + float32 scratch for the rows (columns) that need a scan, per worker thread
        "tile_mb": tile * (4 + 1 + 4) * torch.get_num_threads() / 2**20,
        # centred float32 copies of both sets, made once (the real one is cached by the metric)
        "copies_mb": (n + m) * d * 4 / 2**20,
        # the float64 copy apra makes to take a mean (the larger set), freed again at once
        "mean_copy_mb": max(n, m) * d * 8 / 2**20,
        "full_matrix_mb": n * m * 4 / 2**20,
    }


# -------------------------------------------------------------------------------------------------- report


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        model = fields.get("Model name", model).strip()
    except OSError:
        pass
    blas = "MKL" if torch.backends.mkl.is_available() else "other"
    lines = [
        f"- CPU: {model}, {os.cpu_count()} logical cores; torch threads: {torch.get_num_threads()} (BLAS: {blas})",
        f"- Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, faiss {getattr(faiss, '__version__', 'not installed')}, "
        f"faithful {getattr(faithful, '__version__', '?')}",
        "- compiled candidate filter (numba, extra `fast`): "
        + (f"on (numba {_kernels.numba.__version__})" if _kernels.AVAILABLE else "off (torch filter)"),
    ]
    return "\n".join(lines)


def _fmt_scores(scores: dict[str, float] | None) -> str:
    if scores is None:
        return "–"
    return " / ".join(f"{scores[key]:.4f}" for key in SCALARS)


def print_table(sections: list[tuple[int, int, int, list[Row]]]) -> None:
    print("| n = m | d | method | wall time (s) | vs reference | vs faiss | extra peak RSS (MB) | IPα / IRβ / A |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for n, m, d, rows in sections:
        by_key = {row.method: row for row in rows}
        reference = next((r for r in rows if r.method.startswith("reference")), None)
        faiss_row = next((r for r in rows if r.method.startswith("faiss")), None)
        first = next(r for r in rows if r.method.startswith("faithful, metric first"))
        size = f"{n:,}" if n == m else f"{n:,} / {m:,}"
        for row in by_key.values():
            vs_ref = f"{reference.best / row.best:.2f}× faster" if reference and row is not reference else "–"
            vs_faiss = f"{row.best / faiss_row.best:.2f}×" if faiss_row and row is not faiss_row else "–"
            if row.method.startswith("faithful, metric per-epoch"):
                vs_faiss += f" ({row.best / first.best:.2f}× first)"
            rss = "–" if row.extra_rss_mb is None else f"{row.extra_rss_mb:,.0f}"
            timing = f"{row.best:.3f}" + (f" (best of {len(row.times)})" if len(row.times) > 1 else "")
            cells = [size, str(d), row.method, timing, vs_ref, vs_faiss, rss, _fmt_scores(row.scores)]
            print("| " + " | ".join(cells) + " |")


def goals(sections: list[tuple[int, int, int, list[Row]]]) -> None:
    """The performance goals of the main configuration (the first section)."""
    n, _, d, rows = sections[0]
    reference = next((r for r in rows if r.method.startswith("reference")), None)
    faiss_row = next((r for r in rows if r.method.startswith("faiss")), None)
    functional = next(r for r in rows if "functional" in r.method)
    first = next(r for r in rows if r.method.startswith("faithful, metric first"))
    epoch = next(r for r in rows if r.method.startswith("faithful, metric per-epoch"))
    print(f"\nGoals at n = m = {n:,}, d = {d}:")
    if reference:
        speedup = reference.best / functional.best
        print(f"- first compute >= 3x faster than the reference approach: {speedup:.2f}x ({_met(speedup >= 3)})")
    if faiss_row:
        ratio = functional.best / faiss_row.best
        print(f"- first compute <= 1.25x the faiss time: {ratio:.2f}x ({_met(ratio <= 1.25)})")
    ratio = epoch.best / first.best
    print(f"- per-epoch compute <= 0.6x the first compute: {ratio:.2f}x ({_met(ratio <= 0.6)})")


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


# --------------------------------------------------------------------------------------------- d sweep

SWEEP_METHODS = ("scikit-learn", "faiss", "cKDTree", "faithful")


class Spinner:
    """A child process spinning on one core while the ``with`` block runs (a busy machine, reproducibly)."""

    def __enter__(self) -> Spinner:
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)  # let it reach the scheduler before the timings start
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()


def _faithful_auto(real: torch.Tensor, synthetic: torch.Tensor, k: int) -> dict[str, float]:
    result = alpha_precision_beta_recall_authenticity(real, synthetic, k=k, algorithm="auto")
    return {key: result[key].item() for key in SCALARS}


def sweep_config(n: int, d: int, args: argparse.Namespace, methods: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Best-of-``repeats`` wall time of every method, idle and with one core busy: {load: {method: s}}."""
    real_np, synthetic_np = make_data(n, n, d, args.data, args.seed)
    real, synthetic = torch.from_numpy(real_np), torch.from_numpy(synthetic_np)
    runs: dict[str, Callable[[], Any]] = {
        "scikit-learn": lambda: reference_approach(real_np, synthetic_np, args.k),
        "faiss": lambda: faiss_approach(real_np, synthetic_np, args.k),
        "cKDTree": lambda: ckdtree_approach(real_np, synthetic_np, args.k),
        "faithful": lambda: _faithful_auto(real, synthetic, args.k),
    }
    _warm_up(args.k, d)
    tiny_real, tiny_synthetic = make_data(64, 48, d, "gauss", 0)
    ckdtree_approach(tiny_real, tiny_synthetic, args.k)
    _faithful_auto(torch.from_numpy(tiny_real), torch.from_numpy(tiny_synthetic), args.k)
    out: dict[str, dict[str, float]] = {}
    scores: dict[str, dict[str, float]] = {}
    for load in ("idle", "busy") if args.busy else ("idle",):
        times: dict[str, float] = {}
        with Spinner() if load == "busy" else contextlib.nullcontext():
            for _ in range(args.sweep_repeats):
                for method in methods:  # interleaved: drifting load hits every method alike
                    elapsed, scores[method] = _timed(runs[method])
                    times[method] = min(times.get(method, math.inf), elapsed)
        out[load] = times
    # Same estimator everywhere: the scores agree up to the quantile conventions of the numpy post-processing.
    out["authenticity"] = {method: score["authenticity"] for method, score in scores.items()}
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a / b:.2f}×"


def _seconds(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def run_sweep(args: argparse.Namespace) -> list[tuple[int, int, dict[str, dict[str, float]]]]:
    """The d sweep at every n; sizes above 20,000 only at d <= 16 (the tree's range, the tables' users)."""
    from faithful.functional.apra import _resolve_algorithm

    results = []
    for n in args.sweep_n:
        for d in args.sweep_d:
            if n > 20_000 and d > 16:
                continue
            methods = tuple(
                m
                for m in SWEEP_METHODS
                if (m != "faiss" or faiss is not None)
                and (m not in ("scikit-learn", "cKDTree") or n <= args.sweep_reference_max_n)
                and (m != "cKDTree" or d <= args.sweep_ckdtree_max_d)
            )
            print(f"sweep: n = m = {n:,}, d = {d} ...", file=sys.stderr)
            times = sweep_config(n, d, args, methods)
            times["algorithm"] = {"faithful": _resolve_algorithm("auto", torch.empty(n, d))}  # type: ignore[dict-item]
            results.append((n, d, times))
    return results


def print_sweep(results: list[tuple[int, int, dict[str, Any]]]) -> None:
    print(
        "| n = m | d | faithful auto → | scikit-learn | faiss | cKDTree | faithful | faithful / scikit-learn | "
        "faithful / faiss | busy: scikit-learn | busy: faithful | busy / idle (faithful) | "
        "busy: faithful / scikit-learn |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, d, times in results:
        idle, busy = times["idle"], times.get("busy", {})
        own = idle.get("faithful")
        cells = [f"{n:,}", str(d), times["algorithm"]["faithful"]]
        cells += [_seconds(idle.get(m)) for m in SWEEP_METHODS]
        cells += [_ratio(own, idle.get("scikit-learn")), _ratio(own, idle.get("faiss"))]
        cells += [_seconds(busy.get("scikit-learn")), _seconds(busy.get("faithful"))]
        cells += [_ratio(busy.get("faithful"), own), _ratio(busy.get("faithful"), busy.get("scikit-learn"))]
        print("| " + " | ".join(cells) + " |")


def sweep_goals(results: list[tuple[int, int, dict[str, Any]]]) -> None:
    """Issue 10's goals, per configuration that has the needed columns."""
    print(
        "\nGoals of the sweep (idle <= 0.5x scikit-learn; <= 1.0x faiss at d >= 8; busy <= 1.6x own idle and "
        "<= 0.67x scikit-learn busy):"
    )
    for n, d, times in results:
        idle, busy = times["idle"], times.get("busy", {})
        checks = []
        own = idle.get("faithful")
        if "scikit-learn" in idle:
            checks.append(
                f"vs scikit-learn {own / idle['scikit-learn']:.2f}x ({_met(own <= 0.5 * idle['scikit-learn'])})"
            )
        if "faiss" in idle and d >= 8:
            checks.append(f"vs faiss {own / idle['faiss']:.2f}x ({_met(own <= idle['faiss'])})")
        if "faithful" in busy:
            checks.append(f"busy/idle {busy['faithful'] / own:.2f}x ({_met(busy['faithful'] <= 1.6 * own)})")
            if "scikit-learn" in busy:
                ratio = busy["faithful"] / busy["scikit-learn"]
                checks.append(f"busy vs scikit-learn {ratio:.2f}x ({_met(ratio <= 0.67)})")
        print(f"- n = m = {n:,}, d = {d}: " + "; ".join(checks))


def run_million(args: argparse.Namespace) -> None:
    """faithful alone at n = m = ``args.million_n``, d = 8 (the tree's large case): time and extra peak memory."""
    n, d = args.million_n, 8
    print(f"running n = m = {n:,}, d = {d} ...", file=sys.stderr)
    real_np, synthetic_np = make_data(n, n, d, args.data, args.seed)
    elapsed, _ = _timed(lambda: _faithful_auto(torch.from_numpy(real_np), torch.from_numpy(synthetic_np), args.k))
    extra = None if args.no_memory else measure_memory("functional_auto", n, n, d, args)
    print(f"\n## n = m = {n:,}, d = {d} (faithful, algorithm='auto')\n")
    print("| wall time (s) | goal <= 60 s | extra peak RSS (MB) | inputs (MB) |")
    print("|---:|---|---:|---:|")
    rss = "–" if extra is None else f"{extra:,.0f}"
    print(f"| {elapsed:.1f} | {_met(elapsed <= 60)} | {rss} | {(real_np.nbytes + synthetic_np.nbytes) / 2**20:,.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="real samples (default 10,000; --quick: 600)")
    parser.add_argument("--m", type=int, default=None, help="synthetic samples (default: n)")
    parser.add_argument("--d", type=int, default=None, help="dimension (default 512; --quick: 32)")
    parser.add_argument("--k", type=int, default=5, help="k of the β-recall ball (default 5)")
    parser.add_argument("--data", choices=("gauss", "mixture"), default="gauss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 3; --quick: 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch/faiss threads (default: all cores)")
    parser.add_argument("--no-reference", action="store_true", help="skip the scikit-learn reference approach")
    parser.add_argument("--no-faiss", action="store_true", help="skip faiss")
    parser.add_argument("--no-large", action="store_true", help="skip n = m = 100,000, d = 64")
    parser.add_argument("--large-reference", action="store_true", help="also time scikit-learn at the large size")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke run in seconds")
    parser.add_argument("--no-sweep", action="store_true", help="skip the d sweep (issue 10)")
    parser.add_argument("--sweep-d", default=None, help="dimensions of the sweep (default 2,4,8,16,32,64,128,512)")
    parser.add_argument("--sweep-n", default=None, help="n = m of the sweep (default 20000,100000; d <= 16 above 20k)")
    parser.add_argument("--sweep-repeats", type=int, default=None, help="runs per method and load (default 2)")
    parser.add_argument(
        "--sweep-reference-max-n", type=int, default=10**9, help="skip scikit-learn and cKDTree above this n"
    )
    parser.add_argument(
        "--sweep-ckdtree-max-d",
        type=int,
        default=32,
        help="skip cKDTree used directly above this d (default 32: a tree degenerates to minutes per run beyond)",
    )
    parser.add_argument("--no-busy", dest="busy", action="store_false", help="skip the one-core-busy runs")
    parser.add_argument("--no-million", action="store_true", help="skip n = m = 1,000,000, d = 8")
    parser.add_argument("--million-n", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sweep_d = [int(x) for x in (args.sweep_d or ("2,8" if args.quick else "2,4,8,16,32,64,128,512")).split(",")]
    args.sweep_n = [int(x) for x in (args.sweep_n or ("600" if args.quick else "20000,100000")).split(",")]
    args.sweep_repeats = args.sweep_repeats or (1 if args.quick else 2)
    args.million_n = args.million_n or (3_000 if args.quick else 1_000_000)

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    if faiss is not None:
        faiss.omp_set_num_threads(threads)
    n = args.n or (600 if args.quick else 10_000)
    m = args.m or n
    d = args.d or (32 if args.quick else 512)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, n, m, d, args.k, args.data, args.seed)))
        return 0

    repeats = args.repeats or (1 if args.quick else 3)
    large = (2_000, 8) if args.quick else (100_000, 64)
    memory = (1_500, 16) if args.quick else (50_000, 512)
    with_faiss = faiss is not None and not args.no_faiss
    args.memory_children = not args.no_memory and not args.quick

    print("## Machine\n")
    print(machine())
    if faiss is None and not args.no_faiss:
        print("- faiss is not installed (`pip install lightning-faithful[bench]`): its column is skipped")
    print(f"- data: {args.data}, float32, seed {args.seed}; k = {args.k}; {NUM_THRESHOLDS} thresholds\n")

    sections = []
    print(f"running n = {n:,}, m = {m:,}, d = {d} ...", file=sys.stderr)
    sections.append((n, m, d, run_config(n, m, d, args, not args.no_reference, with_faiss, repeats)))
    if not args.no_large:
        ln, ld = large
        print(f"running n = m = {ln:,}, d = {ld} ...", file=sys.stderr)
        args_large = argparse.Namespace(**{**vars(args), "memory_children": False})
        sections.append(
            (ln, ln, ld, run_config(ln, ln, ld, args_large, args.large_reference or args.quick, with_faiss, 1))
        )
    print("## Wall time\n")
    print_table(sections)
    goals(sections)

    if not args.no_sweep:
        print("\n## Dimension sweep: wall time (s), idle and with one core busy\n")
        sweep = run_sweep(args)
        print_sweep(sweep)
        sweep_goals(sweep)
    if not args.no_million:
        run_million(args)

    if not args.no_memory:
        mn, md = memory
        print(f"running the memory measurement at n = m = {mn:,}, d = {md} ...", file=sys.stderr)
        extra = measure_memory("functional", mn, mn, md, args)
        model = memory_model_mb(mn, mn, md)
        print(f"\n## Peak memory of one functional compute at n = m = {mn:,}, d = {md}\n")
        print("| quantity | MB |")
        print("|---|---:|")
        measured = "failed" if extra is None else f"{extra:,.0f}"
        print(f"| measured: extra peak RSS of the compute (child process) | {measured} |")
        tile_row = "model: one distance tile + mask + scratch per worker thread (independent of n and m)"
        print(f"| {tile_row} | {model['tile_mb']:,.0f} |")
        print(f"| model: centred float32 copies of both sets (O((n + m) d)) | {model['copies_mb']:,.0f} |")
        print(f"| model: transient float64 copy for a mean (O(n d)) | {model['mean_copy_mb']:,.0f} |")
        print(f"| the inputs themselves (not counted above) | {2 * mn * md * 4 / 2**20:,.0f} |")
        print(f"| for comparison: one n × m float32 distance matrix | {model['full_matrix_mb']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Coverage and width of the confidence intervals: ``python validation/coverage.py`` from the repository root.

Both sets are drawn anew in every repetition (real from P, synthetic from the scenario's generator), the
scores and their intervals computed with ``confidence_level``, and an interval "covers" when it holds
the estimand: the expected score at these sizes, estimated by the mean of the scores over all
repetitions of the cell. Prints the table and writes it between the markers in ``docs/auditing.md``.

Scenarios (P: a mixture of 10 unit Gaussians in d dimensions, means N(0, (6²/d) I), equal weights):

- ``perfect``: the generator is P;
- ``dropped modes``: the generator samples 5 of the 10 components only;
- ``30% copies``: 70% fresh draws from P, 30% exact copies of random samples of the real set;
- ``shifted``: P shifted by 1.5 along a fixed unit direction.

Full run: n = m in {300, 2000}, d in {4, 64}, 500 repetitions per cell (``--repetitions`` at n = 300 and at
n = 2000), 200 half-samples per interval; about 17 minutes of one core with numba (``--workers 2`` splits
the cells over two processes; ``--json`` saves each cell as it finishes, ``--from-json`` rewrites the
table from such a file). ``--quick``: 300 samples, d = 4, 40 repetitions, prints only (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zlib
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python validation/coverage.py` puts validation/, not the root, on the path
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from faithful.functional import alpha_precision_beta_recall_authenticity  # noqa: E402

SCENARIOS = ("perfect", "dropped modes", "30% copies", "shifted")
SCORES = ("alpha_precision", "beta_recall", "authenticity")
START, END = "<!-- coverage-table:start -->", "<!-- coverage-table:end -->"


def _mixture(num: int, d: int, components: int, gen: torch.Generator) -> torch.Tensor:
    means = torch.randn(10, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64) * (6.0 / math.sqrt(d))
    label = torch.randint(components, (num,), generator=gen)
    return means[label] + torch.randn(num, d, generator=gen, dtype=torch.float64)


def draw(scenario: str, n: int, m: int, d: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One (real, synthetic) pair of the scenario."""
    real = _mixture(n, d, 10, gen)
    if scenario == "perfect":
        synthetic = _mixture(m, d, 10, gen)
    elif scenario == "dropped modes":
        synthetic = _mixture(m, d, 5, gen)
    elif scenario == "30% copies":
        synthetic = _mixture(m, d, 10, gen)
        copy = torch.rand(m, generator=gen) < 0.3
        synthetic[copy] = real[torch.randint(n, (int(copy.sum()),), generator=gen)]
    elif scenario == "shifted":
        direction = torch.ones(d, dtype=torch.float64) / math.sqrt(d)
        synthetic = _mixture(m, d, 10, gen) + 1.5 * direction
    else:
        raise ValueError(f"Expected a scenario in {SCENARIOS}, but got {scenario!r}.")
    return real, synthetic


def run_cell(cell: tuple[str, int, int, int, int, float]) -> dict:
    """Coverage, width and spread of one (scenario, size, dimension) cell."""
    scenario, size, d, repetitions, num_resamples, level = cell
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(zlib.crc32(f"{scenario}/{size}/{d}".encode()))
    estimates, lowers, uppers = [], [], []
    start = time.perf_counter()
    for repetition in range(repetitions):
        real, synthetic = draw(scenario, size, size, d, gen)
        result = alpha_precision_beta_recall_authenticity(
            real, synthetic, confidence_level=level, num_resamples=num_resamples, seed=repetition
        )
        estimates.append([result[key].item() for key in SCORES])
        lowers.append([result[f"{key}_lower"].item() for key in SCORES])
        uppers.append([result[f"{key}_upper"].item() for key in SCORES])
    estimate, lower, upper = (torch.tensor(x, dtype=torch.float64) for x in (estimates, lowers, uppers))
    truth = estimate.mean(dim=0)
    z = 2 * torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.5 + level / 2)).item()
    return {
        "scenario": scenario,
        "n": size,
        "d": d,
        "repetitions": repetitions,
        "seconds": time.perf_counter() - start,
        "truth": truth.tolist(),
        "coverage": ((lower <= truth) & (truth <= upper)).double().mean(dim=0).tolist(),
        "width": (upper - lower).mean(dim=0).tolist(),
        # The mean width against that of score ± z sd, sd the scores' spread over the repetitions (for
        # authenticity, whose interval is symmetric: the mean estimated standard error over sd).
        "spread_ratio": ((upper - lower).mean(dim=0) / z / estimate.std(dim=0)).tolist(),
        "inside": ((lower <= estimate) & (estimate <= upper)).all().item(),
    }


def table(rows: list[dict], level: float, num_resamples: int) -> str:
    lines = [
        f"Nominal {level:.0%}, {num_resamples} half-samples per interval; truth = mean score over the cell's "
        "repetitions. Coverage (mean width) per score; *width ratio* = mean width / (2 z sd), sd the "
        "standard deviation of the scores over the repetitions (IPα, IRβ, A; for the symmetric interval of A "
        "the mean estimated standard error / sd).",
        "",
        "| scenario | n = m | d | reps | IPα | IRβ | A | width ratio | s / rep |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{c:.3f} ({w:.3f})" for c, w in zip(row["coverage"], row["width"], strict=True)]
        ratio = " / ".join(f"{r:.2f}" for r in row["spread_ratio"])
        lines.append(
            f"| {row['scenario']} | {row['n']} | {row['d']} | {row['repetitions']} | {' | '.join(cells)} | {ratio} | "
            f"{row['seconds'] / row['repetitions']:.2f} |"
        )
    coverages = [c for row in rows for c in row["coverage"]]
    lines += [
        "",
        f"Coverage over all {len(coverages)} cells and scores: {min(coverages):.3f} to {max(coverages):.3f}; "
        f"every estimate inside its interval: {all(row['inside'] for row in rows)}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run into a scratch file (smoke test)")
    parser.add_argument("--workers", type=int, default=1, help="processes (cells are split over them)")
    parser.add_argument("--output", type=Path, default=None, help="markdown file with the table markers")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw rows here, cell by cell")
    parser.add_argument("--from-json", type=Path, default=None, help="only write the table of saved rows")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), help="a subset of the scenarios")
    parser.add_argument("--repetitions", type=int, nargs=2, default=(500, 500), help="at n = 300 and n = 2000")
    args = parser.parse_args(argv)
    level, num_resamples = 0.95, 200
    if args.quick:
        cells = [(scenario, 300, 4, 40, 50, level) for scenario in SCENARIOS]
        output = args.output
    else:
        cells = [
            (scenario, size, d, args.repetitions[0] if size == 300 else args.repetitions[1], num_resamples, level)
            for size in (300, 2000)
            for d in (4, 64)
            for scenario in SCENARIOS
            if scenario in args.scenarios
        ]
        output = args.output or ROOT / "docs" / "auditing.md"
    rows: list[dict] = []
    if args.from_json is not None:
        rows = json.loads(args.from_json.read_text())
    else:
        with get_context("spawn").Pool(args.workers) as pool:
            for row in pool.imap_unordered(run_cell, cells, chunksize=1):
                rows.append(row)
                print(f"{row['scenario']}, n = {row['n']}, d = {row['d']}: coverage {row['coverage']}", flush=True)
                if args.json is not None:
                    args.json.write_text(json.dumps(rows, indent=1))
    order = {(scenario, size, d): i for i, (scenario, size, d, *_) in enumerate(cells)}
    rows.sort(key=lambda row: order.get((row["scenario"], row["n"], row["d"]), len(order)))
    text = table(rows, level, num_resamples if not args.quick else cells[0][4])
    print(text)
    if output is not None:
        document = output.read_text() if output.exists() else f"{START}\n{END}\n"
        head, rest = document.split(START, 1)
        _, tail = rest.split(END, 1)
        output.write_text(f"{head}{START}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()

"""Two CSV files with mixed columns, scored under the three protocols, in Python and with one command.

A mixed numeric/categorical table is built from scikit-learn's bundled wine data (no download): 12 chemical
measurements, the cultivar as text and the colour intensity as a text band. A simple tabular "synthesizer"
(a Gaussian per cultivar for the numbers, the real frequencies for the band) writes ``synthetic.csv``; a
copying one writes ``copies.csv`` (real rows plus tiny noise). Both are scored against ``real.csv``:

- in Python: :func:`faithful.tabular.encode_tables` (encoder fitted on the real table: numeric columns
  standardised, text columns one-hot), then the functional API under ``paper``, ``reference`` and
  ``synthcity`` (the latter after synthcity's min-max scaling, :func:`faithful.tabular.min_max_scale`);
- with the command line: ``faithful evaluate real.csv synthetic.csv --protocol synthcity``.

Run::

    python examples/tabular_csv.py --out tabular_example
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from faithful.functional import alpha_precision_beta_recall_authenticity
from faithful.tabular import encode_tables, min_max_scale

PROTOCOLS = ("paper", "reference", "synthcity")
SCALARS = ("alpha_precision", "beta_recall", "authenticity")


def real_table() -> pd.DataFrame:
    """The wine data as a mixed table: numbers, the cultivar as text, a text colour band."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True)
    frame = wine.data.drop(columns=["color_intensity"]).copy()
    frame["cultivar"] = [f"cultivar_{label}" for label in wine.target]
    frame["colour"] = pd.cut(wine.data["color_intensity"], [0, 3, 6, 20], labels=["pale", "medium", "deep"]).astype(str)
    return frame


def synthesize(real: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A plain synthesizer: per cultivar, a Gaussian for the numbers and the real frequencies for the band."""
    rng = np.random.default_rng(seed)
    numeric = [name for name in real.columns if name not in ("cultivar", "colour")]
    parts = []
    for cultivar, group in real.groupby("cultivar"):
        values = rng.multivariate_normal(group[numeric].mean(), group[numeric].cov(), size=len(group))
        part = pd.DataFrame(values, columns=numeric)
        part["cultivar"] = cultivar
        part["colour"] = rng.choice(group["colour"].to_numpy(), size=len(group))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def copy_rows(real: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A memorising 'synthesizer': the real rows with 0.1% noise on the numbers."""
    rng = np.random.default_rng(seed)
    copies = real.copy()
    numeric = [name for name in real.columns if name not in ("cultivar", "colour")]
    copies[numeric] = copies[numeric] * (1 + 1e-3 * rng.standard_normal(copies[numeric].shape))
    return copies


def score(real_csv: Path, synthetic_csv: Path) -> dict[str, dict[str, float]]:
    """The three scalars under each protocol, through the encoder and the functional API."""
    real, synthetic, _ = encode_tables(real_csv, synthetic_csv, scale="standard")
    scores = {}
    for protocol in PROTOCOLS:
        r, s = min_max_scale(real, synthetic) if protocol == "synthcity" else (real, synthetic)
        result = alpha_precision_beta_recall_authenticity(r, s, protocol=protocol)
        scores[protocol] = {key: float(result[key]) for key in SCALARS}
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tabular_example"), help="directory for the CSV files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    real = real_table()
    real.to_csv(args.out / "real.csv", index=False)
    synthesize(real, args.seed).to_csv(args.out / "synthetic.csv", index=False)
    copy_rows(real, args.seed).to_csv(args.out / "copies.csv", index=False)

    print(f"{'file':<15}{'protocol':<11}{'IPα':>8}{'IRβ':>8}{'A':>8}")
    for name in ("synthetic.csv", "copies.csv"):
        for protocol, values in score(args.out / "real.csv", args.out / name).items():
            row = "".join(f"{values[key]:>8.3f}" for key in SCALARS)
            print(f"{name:<15}{protocol:<11}{row}")

    # The same through the command line (here called in-process): paper-comparable tabular numbers.
    from faithful.cli import main as faithful

    command = ["evaluate", str(args.out / "real.csv"), str(args.out / "synthetic.csv"), "--protocol", "synthcity"]
    command += ["--json", str(args.out / "synthcity.json"), "--overwrite", "--quiet"]
    print("\n$ faithful " + " ".join(command))
    return faithful(command)


if __name__ == "__main__":
    sys.exit(main())

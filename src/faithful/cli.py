"""The ``faithful`` command: ``faithful evaluate REAL SYNTH`` on files, ``faithful demo`` for the main job.

``evaluate`` reads two sample files (``.npy``, ``.pt`` or ``.csv``), optionally embeds both with a
one-class network fitted on REAL, computes α-precision, β-recall and authenticity (with bootstrap
intervals on request), prints a summary table and writes JSON, a curve plot and a per-sample audit CSV.
Every user error (unreadable or malformed file, mismatched columns, bad option) ends with one line
``faithful: error: <reason>`` on stderr and exit code 2; ``docs/cli.md`` has the details.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import json
import logging
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from torch import Tensor

__all__ = ["main"]

PROG = "faithful"
EXIT_OK = 0
EXIT_USER_ERROR = 2
FORMATS = (".npy", ".pt", ".csv")
#: CSV cells read as a missing value (case-insensitive, after stripping blanks).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})

log = logging.getLogger("faithful.cli")


class UserError(Exception):
    """A problem with the user's input or options: reported as one line, exit code 2."""


# --------------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the one-line ``faithful: error: ...`` convention."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see '{self.prog} --help')")


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1 (e.g. 0.95), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer below 2**63, got {text!r}")
    return value


def _build_parser() -> _Parser:
    from faithful import __version__

    parser = _Parser(
        prog=PROG,
        description="Sample-level α-precision, β-recall and authenticity (Alaa et al., ICML 2022).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    evaluate = commands.add_parser(
        "evaluate",
        help="score a file of synthetic samples against a file of real ones",
        description=(
            "Score SYNTH (synthetic samples) against REAL (real samples; for authenticity: the data the "
            "generator was trained on). Files: .npy (2-D array), .pt (a tensor, or a dict holding one "
            "tensor), .csv (header row; numeric columns as numbers, other columns one-hot encoded)."
        ),
    )
    evaluate.add_argument("real", metavar="REAL", type=Path, help="real samples (.npy, .pt or .csv)")
    evaluate.add_argument("synthetic", metavar="SYNTH", type=Path, help="synthetic samples (same format family)")
    evaluate.add_argument(
        "--embedding",
        choices=("none", "one-class"),
        default="none",
        help="evaluation embedding: none (the features as they are) or one-class (a Deep SVDD network fitted "
        "on REAL, with its center as c_r; the paper's setting)",
    )
    evaluate.add_argument(
        "--epochs", type=_positive_int, default=60, help="training epochs of the one-class embedding (default 60)"
    )
    evaluate.add_argument(
        "--embedding-dim",
        type=_positive_int,
        default=32,
        help="output dimension of the one-class embedding (default 32)",
    )
    evaluate.add_argument(
        "--k", type=_positive_int, default=None, help="neighbours for β-recall (default 5; 1 with --protocol reference)"
    )
    evaluate.add_argument(
        "--algorithm",
        choices=("auto", "kd_tree", "brute"),
        default="auto",
        help="exact neighbour search, same results: auto (default: k-d tree at low dimension, brute otherwise), "
        "kd_tree or brute",
    )
    evaluate.add_argument(
        "--protocol",
        choices=("paper", "reference"),
        default="paper",
        help="paper: the definitions, exact integrals (default); reference: the numbers of the authors' code",
    )
    evaluate.add_argument(
        "--categorical",
        choices=("onehot", "error"),
        default="onehot",
        help="CSV non-numeric columns: one-hot encode over the categories of REAL and SYNTH (default) or refuse",
    )
    evaluate.add_argument(
        "--confidence",
        type=_confidence,
        default=None,
        metavar="LEVEL",
        help="add bootstrap intervals at this level, e.g. 0.95",
    )
    evaluate.add_argument(
        "--num-resamples", type=_positive_int, default=1000, help="bootstrap resamples (default 1000)"
    )
    evaluate.add_argument(
        "--seed", type=_seed, default=0, help="seed of the embedding fit and of the bootstrap (default 0)"
    )
    evaluate.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="write scores, intervals, curves and settings as JSON"
    )
    evaluate.add_argument(
        "--plot", type=Path, default=None, metavar="OUT.png", help="write the α-precision and β-recall curves"
    )
    evaluate.add_argument(
        "--audit", type=Path, default=None, metavar="OUT.csv", help="write one row per synthetic sample with its flags"
    )
    evaluate.add_argument(
        "--audit-alpha",
        type=_probability,
        default=1.0,
        metavar="ALPHA",
        help="the audit keeps authentic samples with alpha_level <= ALPHA (default 1)",
    )
    evaluate.add_argument(
        "--standardize",
        action="store_true",
        help="scale every feature by REAL's mean and standard deviation first (columns in different units)",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    commands.add_parser(
        "demo",
        help="train a small GAN on the digits data with the metrics attached (faithful demo --help)",
        add_help=False,
    )
    return parser


# --------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------


@dataclass
class Table:
    """A CSV file as read: column names and the raw (stripped) cells of every data row."""

    columns: list[str]
    rows: list[list[str]]


def _describe(role: str, path: Path) -> str:
    return f"{role} file '{path}'"


def _check_readable(role: str, path: Path) -> None:
    if not path.exists():
        raise UserError(f"{_describe(role, path)} does not exist")
    if path.is_dir():
        raise UserError(f"{_describe(role, path)} is a directory, expected a .npy, .pt or .csv file")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(
            f"{_describe(role, path)} has the unsupported extension {path.suffix or '(none)'!r}; "
            f"expected one of {', '.join(FORMATS)}"
        )
    try:
        size = path.stat().st_size
    except OSError as err:
        raise UserError(f"cannot read {_describe(role, path)}: {err.strerror or err}") from None
    if size == 0:
        raise UserError(f"{_describe(role, path)} is empty")


def _as_samples(role: str, path: Path, array: np.ndarray | Tensor) -> Tensor:
    """A numeric array of any float/int/bool dtype -> a 2-D floating point tensor (samples x features)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array)) if isinstance(array, np.ndarray) else array.detach().cpu()
    if tensor.is_complex():
        raise UserError(f"{_describe(role, path)} holds complex numbers ({tensor.dtype}); expected real numbers")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float64)  # integers and booleans: exact in float64
    if tensor.ndim < 2:
        raise UserError(
            f"{_describe(role, path)} holds a {tensor.ndim}-D array of shape {tuple(tensor.shape)}; expected a "
            "2-D array (samples x features). For one feature per sample save x.reshape(-1, 1)"
        )
    if tensor.ndim > 2:
        log.info("%s: flattening each of the %d samples of shape %s", role, tensor.shape[0], tuple(tensor.shape[1:]))
        tensor = tensor.reshape(tensor.shape[0], -1)
    if tensor.shape[0] == 0:
        raise UserError(f"{_describe(role, path)} holds no samples (shape {tuple(tensor.shape)})")
    if tensor.shape[1] == 0:
        raise UserError(f"{_describe(role, path)} holds samples without features (shape {tuple(tensor.shape)})")
    return tensor


def _load_npy(role: str, path: Path) -> Tensor:
    with path.open("rb") as handle:
        magic = handle.read(6)
    if magic != b"\x93NUMPY":
        raise UserError(
            f"cannot read {_describe(role, path)}: it is not a NumPy .npy file (no .npy header); save arrays "
            "with numpy.save"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"cannot read {_describe(role, path)} as a NumPy array: {_first_line(err)}") from None
    if array.dtype.kind not in "biufc":
        raise UserError(
            f"{_describe(role, path)} holds values of dtype {array.dtype}; expected numbers (bool, int or float)"
        )
    return _as_samples(role, path, array)


def _load_pt(role: str, path: Path) -> Tensor:
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        raise UserError(f"cannot read {_describe(role, path)} with torch.load: {_first_line(err)}") from None
    if isinstance(content, dict):
        tensors = {key: value for key, value in content.items() if isinstance(value, Tensor)}
        if len(tensors) != 1:
            found = ", ".join(f"{key!r}: {_kind(value)}" for key, value in content.items()) or "nothing"
            raise UserError(
                f"{_describe(role, path)} holds a dict with {len(tensors)} tensors ({found}); expected a tensor "
                "or a dict with exactly one tensor. Save the samples alone with torch.save(tensor, path)"
            )
        ((key, content),) = tensors.items()
        log.info("%s: using the tensor %r of the saved dict", role, key)
    if not isinstance(content, Tensor):
        raise UserError(
            f"{_describe(role, path)} holds a {type(content).__name__}; expected a tensor or a dict with exactly "
            "one tensor"
        )
    return _as_samples(role, path, content)


def _kind(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor {tuple(value.shape)}"
    return type(value).__name__


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _read_csv(role: str, path: Path) -> Table:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            records = [row for row in csv.reader(handle) if row]  # blank lines carry no sample
    except UnicodeDecodeError:
        raise UserError(f"cannot read {_describe(role, path)}: it is not UTF-8 text") from None
    except csv.Error as err:
        raise UserError(f"cannot read {_describe(role, path)} as CSV: {err}") from None
    except OSError as err:
        raise UserError(f"cannot read {_describe(role, path)}: {err.strerror or err}") from None
    if not records:
        raise UserError(f"{_describe(role, path)} is empty")
    columns = [name.strip() for name in records[0]]
    if any(not name for name in columns):
        empty = [i + 1 for i, name in enumerate(columns) if not name]
        raise UserError(f"{_describe(role, path)} has columns without a name in its header row (positions {empty})")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise UserError(f"{_describe(role, path)} has duplicate column names in its header row: {duplicates}")
    rows = [[cell.strip() for cell in row] for row in records[1:]]
    if not rows:
        raise UserError(f"{_describe(role, path)} has a header row but no data rows")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise UserError(
                f"{_describe(role, path)}: data row {number} has {len(row)} fields, but the header has "
                f"{len(columns)} columns"
            )
    return Table(columns, rows)


def _parse_float(cell: str) -> float | None:
    """The number in ``cell``, NaN for a missing-value token, None if it is not a number."""
    if cell.lower() in MISSING_TOKENS:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        return None


def _encode_csv(
    real_path: Path, real: Table, synthetic_path: Path, synthetic: Table, categorical: str
) -> tuple[Tensor, Tensor, list[str]]:
    """Match the columns by name, find the non-numeric ones, one-hot encode them over REAL ∪ SYNTH."""
    missing = [name for name in real.columns if name not in synthetic.columns]
    extra = [name for name in synthetic.columns if name not in real.columns]
    if missing or extra:
        parts = ([f"missing in SYNTH: {missing}"] if missing else []) + ([f"extra in SYNTH: {extra}"] if extra else [])
        raise UserError(
            f"the columns of SYNTH '{synthetic_path}' do not match those of REAL '{real_path}' ({'; '.join(parts)})"
        )
    if synthetic.columns != real.columns:
        log.info("SYNTH: reordering the columns by name to REAL's order")
    position = {name: synthetic.columns.index(name) for name in real.columns}

    # A column is numeric when every cell of REAL and SYNTH is a number or a missing-value token.
    numeric: dict[str, tuple[list[float | None], list[float | None]]] = {}
    non_numeric: dict[str, str] = {}  # column -> a value that is not a number, for the messages
    for j, name in enumerate(real.columns):
        real_values = [_parse_float(row[j]) for row in real.rows]
        synthetic_values = [_parse_float(row[position[name]]) for row in synthetic.rows]
        if None in real_values:
            non_numeric[name] = real.rows[real_values.index(None)][j]
        elif None in synthetic_values:
            non_numeric[name] = synthetic.rows[synthetic_values.index(None)][position[name]]
        else:
            numeric[name] = (real_values, synthetic_values)
    if non_numeric and categorical == "error":
        shown = ", ".join(f"{name!r} (e.g. {value!r})" for name, value in non_numeric.items())
        raise UserError(
            f"REAL and SYNTH have non-numeric columns: {shown}; encode them as numbers, or drop "
            "--categorical error to one-hot encode them"
        )

    categories = {
        name: sorted(
            {row[j] for row in real.rows if row[j].lower() not in MISSING_TOKENS}
            | {row[position[name]] for row in synthetic.rows if row[position[name]].lower() not in MISSING_TOKENS}
        )
        for j, name in enumerate(real.columns)
        if name in non_numeric
    }
    if categories:
        log.info(
            "one-hot encoding %d non-numeric column(s) over the categories of REAL and SYNTH: %s",
            len(categories),
            ", ".join(f"{name} ({len(values)} categories)" for name, values in categories.items()),
        )

    def encode(table: Table, values: int, index_of: dict[str, int]) -> tuple[Tensor, list[str]]:
        blocks, features = [], []
        for name in real.columns:
            if name in numeric:
                blocks.append(np.asarray(numeric[name][values], dtype=np.float64)[:, None])
                features.append(name)
                continue
            lookup = {value: i for i, value in enumerate(categories[name])}
            block = np.zeros((len(table.rows), len(lookup)), dtype=np.float64)
            for r, row in enumerate(table.rows):
                cell = row[index_of[name]]
                if cell.lower() in MISSING_TOKENS:
                    block[r, :] = math.nan  # reported with the other missing values
                else:
                    block[r, lookup[cell]] = 1.0
            blocks.append(block)
            features.extend(f"{name}={value}" for value in categories[name])
        return torch.from_numpy(np.concatenate(blocks, axis=1)), features

    real_tensor, features = encode(real, 0, {name: j for j, name in enumerate(real.columns)})
    synthetic_tensor, _ = encode(synthetic, 1, position)
    return real_tensor, synthetic_tensor, features


def _load_pair(real_path: Path, synthetic_path: Path, categorical: str) -> tuple[Tensor, Tensor, list[str] | None]:
    for role, path in (("REAL", real_path), ("SYNTH", synthetic_path)):
        _check_readable(role, path)
    suffixes = (real_path.suffix.lower(), synthetic_path.suffix.lower())
    if (".csv" in suffixes) and suffixes[0] != suffixes[1]:
        raise UserError(
            f"REAL '{real_path}' and SYNTH '{synthetic_path}' must both be .csv or neither: CSV columns are "
            "matched by name"
        )
    if suffixes[0] == ".csv":
        with _step("loading", f"REAL '{real_path}' and SYNTH '{synthetic_path}'"):
            real_table = _read_csv("REAL", real_path)
            synthetic_table = _read_csv("SYNTH", synthetic_path)
            real, synthetic, features = _encode_csv(real_path, real_table, synthetic_path, synthetic_table, categorical)
        return real, synthetic, features
    loaders = {".npy": _load_npy, ".pt": _load_pt}
    with _step("loading REAL", f"'{real_path}'"):
        real = loaders[suffixes[0]]("REAL", real_path)
    with _step("loading SYNTH", f"'{synthetic_path}'"):
        synthetic = loaders[suffixes[1]]("SYNTH", synthetic_path)
    return real, synthetic, None


def _check_samples(role: str, path: Path, samples: Tensor, is_csv: bool) -> None:
    bad_rows = (~torch.isfinite(samples)).any(dim=1)
    num_bad = int(bad_rows.sum())
    if num_bad:
        first = (torch.nonzero(bad_rows).flatten()[:10] + 1).tolist()
        what = "missing, NaN or inf values" if is_csv else "NaN or inf values"
        where = "1-based data rows, header excluded" if is_csv else "1-based rows"
        raise UserError(
            f"{_describe(role, path)} has {num_bad} of {samples.shape[0]} rows with {what} ({where}, first 10: "
            f"{first}); remove or impute them"
        )


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _step(label: str, detail: str = "") -> Iterator[None]:
    """Log the start of a long step and, when it succeeds, how long it took."""
    log.info("%s%s ...", label, f" {detail}" if detail else "")
    start = time.perf_counter()
    yield
    log.info("%s: done in %.2f s", label, time.perf_counter() - start)


def _standardize(real: Tensor, synthetic: Tensor) -> tuple[Tensor, Tensor]:
    """(x - mean) / std per feature, both from REAL; a constant feature keeps std 1 (stays constant)."""
    mean = real.to(torch.float64).mean(dim=0)
    std = real.to(torch.float64).std(dim=0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    log.info("standardizing the %d features with REAL's mean and standard deviation", real.shape[1])
    return ((real - mean) / std).to(real.dtype), ((synthetic - mean) / std).to(synthetic.dtype)


def _embed(args: argparse.Namespace, real: Tensor, synthetic: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    from faithful.embedding import OneClassEmbedding  # lazy: only this option needs it

    embedding = OneClassEmbedding(real.shape[1], out_features=args.embedding_dim)
    with _step("fitting the one-class embedding", f"on REAL ({args.epochs} epochs, seed {args.seed})"):
        embedding.fit(real, epochs=args.epochs, seed=args.seed, progress=not args.quiet)
    with torch.no_grad():
        return embedding(real), embedding(synthetic), embedding.center


def _format_float(value: float) -> str:
    return "inf" if math.isinf(value) else repr(value)


def _write(role: str, path: Path, write: Any) -> None:
    try:
        write(path)
    except OSError as err:
        raise UserError(f"cannot write the {role} file '{path}': {err.strerror or err}") from None
    log.info("wrote %s", path)


def _summary(
    args: argparse.Namespace, result: dict[str, Tensor], shapes: dict[str, int], audited: Any, embedding: str
) -> str:
    lines = [
        f"faithful evaluate: SYNTH '{args.synthetic}' against REAL '{args.real}'",
        f"  real samples       n = {shapes['n']}",
        f"  synthetic samples  m = {shapes['m']}",
        f"  features           d = {shapes['d']}{embedding}",
        f"  settings           k = {shapes['k']}, protocol = {args.protocol}",
        "",
    ]
    header = f"  {'score':<17}{'value':>8}"
    if args.confidence is not None:
        header += f"   {args.confidence:.0%} interval (bootstrap, {args.num_resamples} resamples)"
    lines.append(header)
    for key in ("alpha_precision", "beta_recall", "authenticity"):
        line = f"  {key:<17}{float(result[key]):>8.4f}"
        if args.confidence is not None:
            line += f"   [{float(result[f'{key}_lower']):.4f}, {float(result[f'{key}_upper']):.4f}]"
        lines.append(line)
    m = shapes["m"]
    lines += [
        "",
        f"  synthetic samples inside the α-support at α = {args.audit_alpha:g}: {audited.num_inside} of {m}",
        f"  authentic synthetic samples: {audited.num_authentic} of {m}",
        f"  kept by the audit (inside and authentic): {audited.num_kept} of {m}",
    ]
    return "\n".join(lines)


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before the work, not after it, when an output cannot be written where asked."""
    for option, path in (("--json", args.json), ("--plot", args.plot), ("--audit", args.audit)):
        if path is None:
            continue
        if path.is_dir():
            raise UserError(f"cannot write the {option} file '{path}': it is a directory")
        if not path.parent.is_dir():
            raise UserError(f"cannot write the {option} file '{path}': the directory '{path.parent}' does not exist")


def _evaluate(args: argparse.Namespace) -> int:
    from faithful.audit import audit
    from faithful.functional import alpha_precision_beta_recall_authenticity
    from faithful.functional.apra import PROTOCOLS

    _check_outputs(args)
    is_csv = args.real.suffix.lower() == ".csv"
    real, synthetic, features = _load_pair(args.real, args.synthetic, args.categorical)
    _check_samples("REAL", args.real, real, is_csv)
    _check_samples("SYNTH", args.synthetic, synthetic, is_csv)
    if real.shape[1] != synthetic.shape[1]:
        raise UserError(
            f"REAL '{args.real}' has {real.shape[1]} features per sample but SYNTH '{args.synthetic}' has "
            f"{synthetic.shape[1]}"
        )
    k = args.k if args.k is not None else PROTOCOLS[args.protocol][0]
    if args.protocol == "reference" and k != 1:
        raise UserError(f"--k {k} does not go with --protocol reference (the authors' code fixes k = 1)")
    if real.shape[0] < k + 1:
        raise UserError(
            f"REAL '{args.real}' has {real.shape[0]} samples, but at least k + 1 = {k + 1} are needed (each real "
            f"sample needs k = {k} other real neighbours); add samples or lower --k"
        )
    log.info("REAL: %d samples, SYNTH: %d samples, %d features", real.shape[0], synthetic.shape[0], real.shape[1])
    d = real.shape[1]
    if args.standardize:
        real, synthetic = _standardize(real, synthetic)
    center = None
    embedding_note = " (embedding: none)"
    if args.embedding == "one-class":
        real, synthetic, center = _embed(args, real, synthetic)
        embedding_note = f" -> {real.shape[1]} (embedding: one-class, {args.epochs} epochs, seed {args.seed})"

    detail = f"(neighbour search, {real.shape[0]} real x {synthetic.shape[0]} synthetic samples)"
    if args.confidence is not None:
        detail += f" and {args.num_resamples} bootstrap resamples"
    with _step("computing the metrics", detail):
        try:
            result = alpha_precision_beta_recall_authenticity(
                real,
                synthetic,
                k=k,
                center=center,
                protocol=args.protocol,
                sample_level=True,
                confidence_level=args.confidence,
                num_resamples=args.num_resamples,
                seed=args.seed,
                algorithm=args.algorithm,
            )
        except (ValueError, TypeError) as err:  # the library's input validation, worded for the API
            raise UserError(str(err)) from None
    audited = audit(result, alpha=args.audit_alpha)
    shapes = {"n": real.shape[0], "m": synthetic.shape[0], "d": d, "k": k}
    print(_summary(args, result, shapes, audited, embedding_note))

    if args.json is not None:
        document = _json_document(args, result, shapes, audited, features)
        _write("--json", args.json, lambda path: path.write_text(json.dumps(document, indent=2) + "\n"))
    if args.plot is not None:
        _write("--plot", args.plot, lambda path: _save_plot(result, path))
    if args.audit is not None:
        _write("--audit", args.audit, lambda path: _write_audit(result, audited.keep, path))
    return EXIT_OK


def _json_document(
    args: argparse.Namespace,
    result: dict[str, Tensor],
    shapes: dict[str, int],
    audited: Any,
    features: list[str] | None,
) -> dict[str, Any]:
    from faithful import __version__
    from faithful.functional import INTERVAL_KEYS, SCALAR_KEYS

    document: dict[str, Any] = {key: float(result[key]) for key in SCALAR_KEYS}
    document.update({key: float(result[key]) for key in INTERVAL_KEYS if key in result})
    document["curves"] = {
        key: result[key].tolist() for key in ("thresholds", "alpha_precision_curve", "beta_recall_curve")
    }
    document["counts"] = {
        "inside_alpha_support": audited.num_inside,
        "authentic": audited.num_authentic,
        "kept": audited.num_kept,
        "covered": int(result["covered"].sum()),
    }
    document["settings"] = {
        "real": str(args.real),
        "synthetic": str(args.synthetic),
        "n": shapes["n"],
        "m": shapes["m"],
        "d": shapes["d"],
        "features": features,
        "k": shapes["k"],
        "protocol": args.protocol,
        "num_thresholds": int(result["thresholds"].numel()),
        "standardize": args.standardize,
        "embedding": args.embedding,
        "epochs": args.epochs if args.embedding == "one-class" else None,
        "embedding_dim": args.embedding_dim if args.embedding == "one-class" else None,
        "confidence_level": args.confidence,
        "num_resamples": args.num_resamples if args.confidence is not None else None,
        "seed": args.seed,
        "audit_alpha": args.audit_alpha,
        "version": __version__,
    }
    return document


def _save_plot(result: dict[str, Tensor], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    from faithful.plotting import plot_curves

    fig, _ = plot_curves(result)
    try:
        fig.savefig(path, dpi=150)
    finally:
        plt.close(fig)


def _write_audit(result: dict[str, Tensor], keep: Tensor, path: Path) -> None:
    alpha_level = result["alpha_level"].tolist()
    authentic = result["authentic"].tolist()
    distance = result["distance_to_real"].tolist()
    nearest = result["nearest_real_index"].tolist()
    flags = keep.tolist()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "alpha_level", "authentic", "distance_to_real", "nearest_real_index", "keep"])
        for j in range(len(alpha_level)):
            writer.writerow(
                [
                    j,
                    _format_float(alpha_level[j]),
                    "true" if authentic[j] else "false",
                    _format_float(distance[j]),
                    nearest[j],
                    "true" if flags[j] else "false",
                ]
            )


# --------------------------------------------------------------------------------------------------
# demo and main
# --------------------------------------------------------------------------------------------------


def _demo(argv: list[str]) -> int:
    try:
        demo = importlib.import_module("faithful.demo")
    except ModuleNotFoundError as err:
        if err.name == "faithful.demo":
            raise UserError("the demo is not available: this installation has no module 'faithful.demo'") from None
        raise
    entry = getattr(demo, "main", None)
    if not callable(entry):
        raise UserError("the demo is not available: 'faithful.demo' has no main(argv) function")
    code = entry(argv)
    return int(code) if code is not None else EXIT_OK


@contextlib.contextmanager
def _progress_logging(quiet: bool) -> Iterator[None]:
    """Progress lines of this command and the library (``faithful.*`` loggers) on stderr."""
    logger = logging.getLogger("faithful")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``faithful`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments and arguments[0] == "demo":
            # The demo parses its own options (its --help too).
            return _demo(arguments[1:])
        parser = _build_parser()
        args = parser.parse_args(arguments)
        if args.command is None:
            raise UserError(f"choose a command: evaluate or demo (see '{PROG} --help')")
        with _progress_logging(args.quiet):
            return _evaluate(args)
    except UserError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else EXIT_OK
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

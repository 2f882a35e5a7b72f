"""The ``faithful`` command: ``faithful evaluate REAL SYNTH`` on files, ``faithful demo`` for the main job.

``evaluate`` reads two sample files (``.npy``, ``.pt`` or ``.csv``), optionally embeds both with a
one-class network fitted on REAL, computes α-precision, β-recall and authenticity (with confidence
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
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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
TABLE_FORMATS = (".csv", ".parquet")
FORMATS = (".npy", ".pt", *TABLE_FORMATS)
#: Output options: argparse dest -> option. Every one is checked before any work (``_check_outputs``) and
#: written at the end through ``_write_outputs``; a new output is one entry here and one renderer in ``_evaluate``.
OUTPUTS = {"json": "--json", "plot": "--plot", "audit": "--audit", "report": "--report"}
#: Outputs that are directories (of files); the others are single files.
DIRECTORY_OUTPUTS = ("--report",)

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


def _image_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1 or (len(shape) == 3 and shape[0] not in (1, 3)):
        raise argparse.ArgumentTypeError(f"expected H,W or C,H,W with C 1 or 3, but got {text!r}")
    return shape


def _columns(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def _build_parser() -> _Parser:
    from faithful import __version__
    from faithful.functional._checks import PROTOCOLS
    from faithful.tabular import MISSING_OPTIONS, SCALE_OPTIONS, UNKNOWN_OPTIONS

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
            "tensor), or tables: .csv (header row) and .parquet (needs pyarrow), encoded by an encoder fitted on "
            "REAL (numeric columns as numbers, text columns one-hot). Outputs never overwrite an input, and an "
            "existing output file only with --overwrite."
        ),
    )
    evaluate.add_argument("real", metavar="REAL", type=Path, help="real samples (.npy, .pt, .csv or .parquet)")
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
        "--k",
        type=_positive_int,
        default=None,
        help="neighbours for β-recall (default 5; 1 with --protocol reference or synthcity)",
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
        choices=tuple(PROTOCOLS),
        default="paper",
        help="paper: the definitions, exact integrals (default); reference: the numbers of the authors' code; "
        "synthcity: synthcity 0.2.12's naive keys as tabular papers report them (min-max scaling fitted on REAL "
        "after encoding); see docs/reproducing.md",
    )
    tables = evaluate.add_argument_group("tables (.csv, .parquet)")
    tables.add_argument(
        "--categorical",
        type=_columns,
        action="extend",
        default=[],
        metavar="COLUMN[,COLUMN...]",
        help="one-hot encode these columns whatever their type (e.g. integer codes); text columns of REAL are "
        "categorical in any case",
    )
    tables.add_argument(
        "--exclude",
        type=_columns,
        action="extend",
        default=[],
        metavar="COLUMN[,COLUMN...]",
        help="leave these columns out (identifiers, a target column)",
    )
    tables.add_argument(
        "--scale",
        choices=SCALE_OPTIONS,
        default="none",
        help="numeric columns (every feature of .npy/.pt input): as they are (default), standardised or min-max "
        "scaled with REAL's statistics",
    )
    tables.add_argument(
        "--unknown-categories",
        choices=UNKNOWN_OPTIONS,
        default="error",
        help="a SYNTH category REAL does not have: error (default) or ignore (all-zero one-hot block)",
    )
    tables.add_argument(
        "--missing",
        choices=MISSING_OPTIONS,
        default="error",
        help="rows with missing values: error (default), drop them, or impute (REAL's median / most frequent)",
    )
    evaluate.add_argument(
        "--drop-last-feature",
        action="store_true",
        help="drop the last encoded feature, as synthcity's AlphaPrecision.evaluate() does (it takes it for the "
        "target); with --protocol synthcity this reproduces TabSyn-style evaluation scripts",
    )
    evaluate.add_argument(
        "--confidence",
        type=_confidence,
        default=None,
        metavar="LEVEL",
        help="add confidence intervals (half-sampling both sets) at this level, e.g. 0.95",
    )
    evaluate.add_argument(
        "--num-resamples", type=_positive_int, default=200, help="half-sample replicates (default 200)"
    )
    evaluate.add_argument(
        "--seed", type=_seed, default=0, help="seed of the embedding fit and of the interval replicates (default 0)"
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
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write curves, histograms and the copies / atypical / missed views (tables, or PNG grids with "
        "--image-shape) into DIR",
    )
    evaluate.add_argument(
        "--image-shape",
        type=_image_shape,
        default=None,
        metavar="C,H,W",
        help="with --report: each sample is an image of this shape (e.g. 1,8,8), drawn as PNG grids",
    )
    evaluate.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (never an input file)"
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


def _describe(role: str, path: Path) -> str:
    return f"{role} file '{path}'"


def _check_readable(role: str, path: Path) -> None:
    if not path.exists():
        raise UserError(f"{_describe(role, path)} does not exist")
    if path.is_dir():
        raise UserError(f"{_describe(role, path)} is a directory, expected one of {', '.join(FORMATS)}")
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
    bad_rows = (~torch.isfinite(tensor)).any(dim=1)
    num_bad = int(bad_rows.sum())
    if num_bad:
        first = (torch.nonzero(bad_rows).flatten()[:10] + 1).tolist()
        raise UserError(
            f"{_describe(role, path)} has {num_bad} of {tensor.shape[0]} rows with NaN or inf values (1-based rows, "
            f"first 10: {first}); remove or impute them"
        )
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


@dataclass
class Loaded:
    """The two sample sets as matrices, and what the table encoding made of them (tables only)."""

    real: Tensor
    synthetic: Tensor
    features: list[str] | None = None
    encoding: dict[str, Any] | None = None
    #: 0-based rows of REAL and SYNTH behind each sample (differ from 0..n-1 when rows were dropped).
    real_rows: list[int] | None = None
    synthetic_rows: list[int] | None = None


def _load_tables(args: argparse.Namespace) -> Loaded:
    """Both tables through faithful.tabular: encoder fitted on REAL, applied to both."""
    from faithful.tabular import TableEncoder, TableError, read_table

    try:
        with _step("loading", f"REAL '{args.real}' and SYNTH '{args.synthetic}'"):
            real_table = read_table(args.real, role="REAL")
            synthetic_table = read_table(args.synthetic, role="SYNTH")
        encoder = TableEncoder(
            categorical=args.categorical,
            exclude=args.exclude,
            scale=args.scale,
            unknown=args.unknown_categories,
            missing=args.missing,
        )
        with _step("encoding", "(fitted on REAL, applied to both)"):
            encoder.fit(real_table, role="REAL")
            real = encoder.transform(real_table, role="REAL")
            synthetic = encoder.transform(synthetic_table, role="SYNTH")
    except TableError as err:
        raise UserError(str(err)) from None
    encoding = {
        "numeric_columns": encoder.numeric_columns,
        "categorical_columns": encoder.categorical_columns,
        "excluded_columns": encoder.exclude,
        "unknown_categories": args.unknown_categories,
        "missing": args.missing,
        "dropped_rows": {
            role: len(table) - len(encoder.kept_rows[role])
            for role, table in (("REAL", real_table), ("SYNTH", synthetic_table))
        },
    }
    kept = encoder.kept_rows
    return Loaded(real, synthetic, encoder.feature_names, encoding, kept["REAL"], kept["SYNTH"])


def _load(args: argparse.Namespace) -> Loaded:
    for role, path in (("REAL", args.real), ("SYNTH", args.synthetic)):
        _check_readable(role, path)
    is_table = [path.suffix.lower() in TABLE_FORMATS for path in (args.real, args.synthetic)]
    if any(is_table) and not all(is_table):
        raise UserError(
            f"REAL '{args.real}' and SYNTH '{args.synthetic}' must both be tables ({', '.join(TABLE_FORMATS)}) or "
            "neither: table columns are matched by name"
        )
    if all(is_table):
        return _load_tables(args)
    table_options = [option for option, value in _table_options(args).items() if value]
    if table_options:
        raise UserError(f"{', '.join(table_options)} only apply to tables ({', '.join(TABLE_FORMATS)})")
    loaders = {".npy": _load_npy, ".pt": _load_pt}
    with _step("loading REAL", f"'{args.real}'"):
        real = loaders[args.real.suffix.lower()]("REAL", args.real)
    with _step("loading SYNTH", f"'{args.synthetic}'"):
        synthetic = loaders[args.synthetic.suffix.lower()]("SYNTH", args.synthetic)
    if real.shape[1] != synthetic.shape[1]:
        raise UserError(
            f"REAL '{args.real}' has {real.shape[1]} features per sample but SYNTH '{args.synthetic}' has "
            f"{synthetic.shape[1]}"
        )
    if args.scale != "none":
        real, synthetic = _scale_arrays(args.scale, real, synthetic)
    return Loaded(real, synthetic)


def _table_options(args: argparse.Namespace) -> dict[str, bool]:
    """The table-only options the user set (for arrays they are an error, not silently ignored)."""
    return {
        "--categorical": bool(args.categorical),
        "--exclude": bool(args.exclude),
        "--unknown-categories": args.unknown_categories != "error",
        "--missing": args.missing != "error",
    }


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


def _scale_arrays(scale: str, real: Tensor, synthetic: Tensor) -> tuple[Tensor, Tensor]:
    """Every feature of .npy/.pt input by REAL's statistics (tables: the encoder scales numeric columns)."""
    if scale == "minmax":
        from faithful.tabular import min_max_scale

        log.info("min-max scaling the %d features with REAL's range", real.shape[1])
        return min_max_scale(real, synthetic)
    mean = real.to(torch.float64).mean(dim=0)
    std = real.to(torch.float64).std(dim=0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant feature stays constant
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
        header += f"   {args.confidence:.0%} interval (half-sampling, {args.num_resamples} replicates)"
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


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (symlinks, hard links, ``./x`` and ``x`` included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_outputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Refuse, before any work, every output that cannot or must not be written; returns (option, path) pairs.

    An output is never one of the inputs (even with --overwrite); two outputs never share a path; an existing
    file is replaced only with --overwrite; its directory must exist.
    """
    inputs = {"REAL": args.real, "SYNTH": args.synthetic}
    outputs = [(option, getattr(args, dest)) for dest, option in OUTPUTS.items() if getattr(args, dest) is not None]
    seen: dict[Path, str] = {}
    for option, path in outputs:
        for role, source in inputs.items():
            if _same_file(path, source) or path.resolve() == source.resolve():
                raise UserError(f"{option} '{path}' is the {role} input file; choose another output path")
        resolved = path.resolve()
        if resolved in seen:
            raise UserError(f"{seen[resolved]} and {option} both write to '{path}'; give each output its own path")
        seen[resolved] = option
        if option in DIRECTORY_OUTPUTS:
            _check_output_directory(option, path, inputs, args.overwrite)
            continue
        if path.is_dir():
            raise UserError(f"cannot write the {option} file '{path}': it is a directory")
        if not path.parent.is_dir():
            raise UserError(f"cannot write the {option} file '{path}': the directory '{path.parent}' does not exist")
        if path.exists() and not args.overwrite:
            raise UserError(f"{option} file '{path}' exists; pass --overwrite to replace it")
    if args.image_shape is not None and args.report is None:
        raise UserError("--image-shape only shapes the --report views; add --report DIR")
    return outputs


def _check_output_directory(option: str, path: Path, inputs: dict[str, Path], overwrite: bool) -> None:
    """A directory output: not a file, its parent exists, no input inside it, not filled unless --overwrite."""
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot write the {option} directory '{path}': it is a file")
    if not path.parent.is_dir():
        raise UserError(f"cannot write the {option} directory '{path}': '{path.parent}' does not exist")
    for role, source in inputs.items():
        if path.resolve() in source.resolve().parents:
            raise UserError(f"{option} directory '{path}' holds the {role} input file; choose another directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UserError(f"{option} directory '{path}' is not empty; pass --overwrite to replace its files")


def _write_outputs(writers: list[tuple[str, Path, Callable[[Path], None]]]) -> None:
    """Write every output to a temporary file beside it, then move them all into place.

    A failure while writing leaves no output behind (and any existing file untouched).
    """
    staged: list[tuple[str, Path, Path]] = []
    try:
        for option, path, write in writers:
            if option in DIRECTORY_OUTPUTS:
                name = tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.")
            else:
                handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
                os.close(handle)
            staged.append((option, Path(name), path))
            try:
                write(Path(name))
            except OSError as err:
                raise UserError(f"cannot write the {option} file '{path}': {err.strerror or err}") from None
        for option, staged_path, path in staged:
            if option in DIRECTORY_OUTPUTS and path.is_dir():  # --overwrite: replace its files one by one
                for item in staged_path.iterdir():
                    os.replace(item, path / item.name)
            else:
                os.replace(staged_path, path)
            log.info("wrote %s", path)
    finally:
        for _, staged_path, _ in staged:
            if staged_path.is_dir():
                shutil.rmtree(staged_path, ignore_errors=True)
            else:
                staged_path.unlink(missing_ok=True)


def _evaluate(args: argparse.Namespace) -> int:
    from faithful.audit import audit
    from faithful.functional import alpha_precision_beta_recall_authenticity
    from faithful.functional._checks import PROTOCOLS

    outputs = _check_outputs(args)
    default_k = PROTOCOLS[args.protocol][0]
    k = args.k if args.k is not None else default_k
    if args.protocol != "paper" and k != default_k:
        raise UserError(f"--k {k} does not go with --protocol {args.protocol} (the published code fixes k = 1)")
    loaded = _load(args)
    real, synthetic = loaded.real, loaded.synthetic
    if args.protocol == "synthcity":
        from faithful.tabular import min_max_scale

        # synthcity's evaluate() min-max scales every column with a scaler fitted on the real table.
        log.info("protocol synthcity: min-max scaling the %d features with REAL's range", real.shape[1])
        real, synthetic = min_max_scale(real, synthetic)
    features = loaded.features
    if args.drop_last_feature:
        if real.shape[1] < 2:
            raise UserError("--drop-last-feature needs at least 2 features, but there is 1")
        dropped = features[-1] if features else f"feature {real.shape[1] - 1}"
        log.info("dropping the last feature (%s), as synthcity's AlphaPrecision.evaluate() does", dropped)
        real, synthetic = real[:, :-1], synthetic[:, :-1]
        features = features[:-1] if features else None
    if real.shape[0] < k + 1:
        raise UserError(
            f"REAL '{args.real}' has {real.shape[0]} samples, but at least k + 1 = {k + 1} are needed (each real "
            f"sample needs k = {k} other real neighbours); add samples or lower --k"
        )
    log.info("REAL: %d samples, SYNTH: %d samples, %d features", real.shape[0], synthetic.shape[0], real.shape[1])
    d = real.shape[1]
    # The report shows the samples as loaded (tables: encoded), before scaling, dropping or embedding.
    inputs = loaded.real, loaded.synthetic
    if args.image_shape is not None and math.prod(args.image_shape) != inputs[0].shape[1]:
        raise UserError(
            f"--image-shape {args.image_shape} holds {math.prod(args.image_shape)} values per sample, but REAL has "
            f"{inputs[0].shape[1]}"
        )
    center = None
    embedding_note = " (embedding: none)"
    if args.embedding == "one-class":
        real, synthetic, center = _embed(args, real, synthetic)
        embedding_note = f" -> {real.shape[1]} (embedding: one-class, {args.epochs} epochs, seed {args.seed})"

    detail = f"(neighbour search, {real.shape[0]} real x {synthetic.shape[0]} synthetic samples)"
    if args.confidence is not None:
        detail += f" and {args.num_resamples} half-sample replicates"
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

    rows = (loaded.synthetic_rows or list(range(synthetic.shape[0])), loaded.real_rows or list(range(real.shape[0])))
    document = _json_document(args, result, shapes, audited, features, loaded.encoding)
    render: dict[str, Callable[[Path], None]] = {
        "--json": lambda path: _write_json(document, path),
        "--plot": lambda path: _save_plot(result, path),
        "--audit": lambda path: _write_audit(result, audited.keep, rows, path),
        "--report": lambda path: _write_report(path, result, inputs, loaded.features, args.image_shape),
    }
    _write_outputs([(option, path, render[option]) for option, path in outputs])
    return EXIT_OK


def _write_report(
    path: Path,
    result: dict[str, Tensor],
    inputs: tuple[Tensor, Tensor],
    features: list[str] | None,
    image_shape: tuple[int, ...] | None,
) -> None:
    from faithful.report import write_report

    write_report(path, result, *inputs, feature_names=features, image_shape=image_shape)


def _json_document(
    args: argparse.Namespace,
    result: dict[str, Tensor],
    shapes: dict[str, int],
    audited: Any,
    features: list[str] | None,
    encoding: dict[str, Any] | None,
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
        "encoding": encoding,
        "scale": args.scale,
        "drop_last_feature": args.drop_last_feature,
        "k": shapes["k"],
        "protocol": args.protocol,
        "num_thresholds": int(result["thresholds"].numel()),
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


def _write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


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


def _write_audit(result: dict[str, Tensor], keep: Tensor, rows: tuple[list[int], list[int]], path: Path) -> None:
    """One row per synthetic sample; ``index`` and ``nearest_real_index`` are 0-based data rows of the files."""
    synthetic_rows, real_rows = rows
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
                    synthetic_rows[j],
                    _format_float(alpha_level[j]),
                    "true" if authentic[j] else "false",
                    _format_float(distance[j]),
                    real_rows[nearest[j]],
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

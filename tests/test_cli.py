"""``faithful evaluate`` end to end through a real subprocess: formats, outputs, audit CSV, bad files.

Every command of this module runs once, all at the same time, in a module-scoped fixture (starting Python
with torch costs seconds; running them side by side uses every core). Each test then checks its own run
against the functional API on the same arrays.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from faithful.functional import alpha_precision_beta_recall_authenticity

SCALARS = ("alpha_precision", "beta_recall", "authenticity")
INTERVALS = tuple(f"{key}_{bound}" for key in SCALARS for bound in ("lower", "upper"))


def _arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    real = rng.standard_normal((160, 4))
    synthetic = np.concatenate([real[:15] + 1e-6, 0.8 * rng.standard_normal((110, 4)) + 0.1, real[:5] + 40.0])
    return real, synthetic


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _categorical_tables() -> tuple[list[str], list[list[object]], list[str], list[list[object]]]:
    real, synthetic = _arrays()
    rng = np.random.default_rng(1)
    real_color = rng.choice(["red", "green"], len(real))
    synthetic_color = rng.choice(["red", "blue"], len(synthetic))  # "blue" only in SYNTH, "green" only in REAL
    header = ["x0", "color", "x1", "x2", "x3"]
    real_rows = [[r[0], c, r[1], r[2], r[3]] for r, c in zip(real, real_color, strict=True)]
    # SYNTH has its columns in another order: matched by name.
    synthetic_header = ["x3", "x2", "color", "x1", "x0"]
    synthetic_rows = [[r[3], r[2], c, r[1], r[0]] for r, c in zip(synthetic, synthetic_color, strict=True)]
    return header, real_rows, synthetic_header, synthetic_rows


def _expected_categorical() -> tuple[torch.Tensor, torch.Tensor]:
    """The encoding written out: numeric columns in REAL's order, then color one-hot over REAL's categories
    (green, red); "blue", only in SYNTH, is all zeros (--unknown-categories ignore)."""
    header, real_rows, synthetic_header, synthetic_rows = _categorical_tables()
    categories = ["green", "red"]

    def encode(names: list[str], rows: list[list[object]]) -> torch.Tensor:
        out = []
        for row in rows:
            record = dict(zip(names, row, strict=True))
            out.append([float(record[f"x{i}"]) for i in range(4)] + [float(record["color"] == c) for c in categories])
        return torch.tensor(out, dtype=torch.float64)

    return encode(header, real_rows), encode(synthetic_header, synthetic_rows)


def _prepare_files(root: Path) -> None:
    real, synthetic = _arrays()
    np.save(root / "real.npy", real)
    np.save(root / "synthetic.npy", synthetic)
    torch.save(torch.tensor(real, dtype=torch.float32), root / "real.pt")
    torch.save({"samples": torch.tensor(synthetic, dtype=torch.float32)}, root / "synthetic.pt")
    header = [f"x{i}" for i in range(4)]
    _write_csv(root / "real.csv", header, real.tolist())
    _write_csv(root / "synthetic.csv", header, synthetic.tolist())
    header, real_rows, synthetic_header, synthetic_rows = _categorical_tables()
    _write_csv(root / "real_cat.csv", header, real_rows)
    _write_csv(root / "synthetic_cat.csv", synthetic_header, synthetic_rows)

    # Bad inputs, one problem each.
    (root / "garbage.npy").write_bytes(b"\x00\x01not a numpy file at all\xff" * 10)
    (root / "garbage.pt").write_bytes(b"\x00\x01not a torch file\xff" * 10)
    (root / "real.txt").write_text("1,2,3\n")
    _write_csv(root / "other_columns.csv", ["x0", "x1", "x2", "y"], real[:, :4].tolist())
    nan_rows = synthetic.copy()
    nan_rows[[2, 6], 1] = np.nan
    nan_rows[8, 0] = np.inf
    _write_csv(root / "nan_rows.csv", [f"x{i}" for i in range(4)], nan_rows.tolist())
    np.save(root / "nan_rows.npy", nan_rows)
    (root / "empty.csv").write_text("")
    (root / "header_only.csv").write_text("x0,x1,x2,x3\n")
    np.save(root / "too_few.npy", real[:3])
    # Tables with one problem each, as a tabular synthesizer or a spreadsheet leaves them.
    header = [f"x{i}" for i in range(4)]
    stray = [[f"{v:.6f}" for v in row] for row in synthetic.tolist()]
    stray[4][1], stray[11][1] = "oops", "1.23kg"
    _write_csv(root / "stray_text.csv", header, stray)
    stray_real = [[f"{v:.6f}" for v in row] for row in real.tolist()]
    stray_real[6][2] = "n.a."
    _write_csv(root / "stray_text_real.csv", header, stray_real)
    holes = [[f"{v:.6f}" for v in row] for row in synthetic.tolist()]
    holes[3][0], holes[9][2] = "", "NA"
    _write_csv(root / "missing_values.csv", header, holes)
    (root / "existing.json").write_text("keep me\n")
    (root / "replaced.json").write_text("replace me\n")
    if importlib.util.find_spec("pyarrow") is not None:
        import pandas as pd

        for name in ("real_cat", "synthetic_cat"):
            pd.read_csv(root / f"{name}.csv").to_parquet(root / f"{name}.parquet")
    np.save(root / "three_features.npy", synthetic[:, :3])
    torch.save({"a": torch.zeros(3, 4), "b": torch.zeros(3, 4)}, root / "two_tensors.pt")


def _commands(root: Path) -> dict[str, list[str]]:
    r = str(root)
    commands = {
        "npy": [
            "evaluate",
            f"{r}/real.npy",
            f"{r}/synthetic.npy",
            "--json",
            f"{r}/npy.json",
            "--plot",
            f"{r}/npy.png",
            "--audit",
            f"{r}/npy_audit.csv",
            "--audit-alpha",
            "0.9",
            "--confidence",
            "0.9",
            "--num-resamples",
            "200",
            "--seed",
            "3",
        ],
        "pt": [
            "evaluate",
            f"{r}/real.pt",
            f"{r}/synthetic.pt",
            "--json",
            f"{r}/pt.json",
            "--k",
            "3",
            "--scale",
            "standard",
            "--quiet",
        ],
        "csv": [
            "evaluate",
            f"{r}/real.csv",
            f"{r}/synthetic.csv",
            "--json",
            f"{r}/csv.json",
            "--protocol",
            "reference",
            "--audit",
            f"{r}/csv_audit.csv",
        ],
        "categorical": [
            "evaluate",
            f"{r}/real_cat.csv",
            f"{r}/synthetic_cat.csv",
            "--unknown-categories",
            "ignore",
            "--json",
            f"{r}/cat.json",
        ],
        "synthcity": [
            "evaluate",
            f"{r}/real_cat.csv",
            f"{r}/synthetic_cat.csv",
            "--unknown-categories",
            "ignore",
            "--protocol",
            "synthcity",
            "--json",
            f"{r}/synthcity.json",
        ],
        "synthcity_drop_last": [
            "evaluate",
            f"{r}/real_cat.csv",
            f"{r}/synthetic_cat.csv",
            "--unknown-categories",
            "ignore",
            "--protocol",
            "synthcity",
            "--drop-last-feature",
            "--json",
            f"{r}/synthcity_drop_last.json",
            "--quiet",
        ],
        "missing_drop": [
            "evaluate",
            f"{r}/real.csv",
            f"{r}/missing_values.csv",
            "--missing",
            "drop",
            "--json",
            f"{r}/missing_drop.json",
            "--audit",
            f"{r}/missing_drop_audit.csv",
        ],
        "overwrite": ["evaluate", f"{r}/real.npy", f"{r}/synthetic.npy", "--json", f"{r}/replaced.json", "--overwrite"],
        # Errors: each also asks for a JSON file that must not appear.
        "unseen_category": ["evaluate", f"{r}/real_cat.csv", f"{r}/synthetic_cat.csv", "--json", f"{r}/no1.json"],
        "stray_text": ["evaluate", f"{r}/real.csv", f"{r}/stray_text.csv", "--json", f"{r}/no2.json"],
        "stray_text_real": ["evaluate", f"{r}/stray_text_real.csv", f"{r}/synthetic.csv", "--json", f"{r}/no3.json"],
        "missing_values": ["evaluate", f"{r}/real.csv", f"{r}/missing_values.csv", "--json", f"{r}/no4.json"],
        "output_is_input": ["evaluate", f"{r}/real.csv", f"{r}/synthetic.csv", "--json", f"{r}/real.csv"],
        "output_is_input_overwrite": [
            "evaluate",
            f"{r}/real.npy",
            f"{r}/synthetic.npy",
            "--audit",
            f"{r}/./synthetic.npy",
            "--overwrite",
        ],
        "two_outputs_one_path": [
            "evaluate",
            f"{r}/real.npy",
            f"{r}/synthetic.npy",
            "--json",
            f"{r}/twice.out",
            "--plot",
            f"{r}/twice.out",
        ],
        "existing_output": ["evaluate", f"{r}/real.npy", f"{r}/synthetic.npy", "--json", f"{r}/existing.json"],
        "table_option_on_arrays": ["evaluate", f"{r}/real.npy", f"{r}/synthetic.npy", "--missing", "drop"],
        "garbage_npy": ["evaluate", f"{r}/garbage.npy", f"{r}/synthetic.npy"],
        "garbage_pt": ["evaluate", f"{r}/real.pt", f"{r}/garbage.pt", "--quiet"],
        "wrong_extension": ["evaluate", f"{r}/real.txt", f"{r}/synthetic.npy", "--quiet"],
        "mismatched_columns": ["evaluate", f"{r}/real.csv", f"{r}/other_columns.csv", "--quiet"],
        "nan_rows_csv": ["evaluate", f"{r}/real.csv", f"{r}/nan_rows.csv", "--quiet"],
        "nan_rows_npy": ["evaluate", f"{r}/real.npy", f"{r}/nan_rows.npy", "--quiet"],
        "empty": ["evaluate", f"{r}/empty.csv", f"{r}/synthetic.csv", "--quiet"],
        "header_only": ["evaluate", f"{r}/real.csv", f"{r}/header_only.csv", "--quiet"],
        "missing_file": ["evaluate", f"{r}/real.npy", f"{r}/no_such_file.npy", "--quiet"],
        "too_few_rows": ["evaluate", f"{r}/too_few.npy", f"{r}/synthetic.npy", "--quiet"],
        "feature_mismatch": ["evaluate", f"{r}/real.npy", f"{r}/three_features.npy", "--quiet"],
        "two_tensors": ["evaluate", f"{r}/two_tensors.pt", f"{r}/synthetic.pt", "--quiet"],
        "bad_option": ["evaluate", f"{r}/real.npy", f"{r}/synthetic.npy", "--confidence", "1.5"],
        "unwritable_output": [
            "evaluate",
            f"{r}/real.npy",
            f"{r}/synthetic.npy",
            "--json",
            f"{r}/no/dir/x.json",
            "--quiet",
        ],
        "no_command": [],
        "demo_help": ["demo", "--help"],
    }
    if importlib.util.find_spec("pyarrow") is not None:
        commands["parquet"] = [
            "evaluate",
            f"{r}/real_cat.parquet",
            f"{r}/synthetic_cat.parquet",
            "--unknown-categories",
            "ignore",
            "--json",
            f"{r}/parquet.json",
            "--quiet",
        ]
    if importlib.util.find_spec("faithful.embedding") is not None:
        commands["one_class"] = [
            "evaluate",
            f"{r}/real.npy",
            f"{r}/synthetic.npy",
            "--embedding",
            "one-class",
            "--epochs",
            "3",
            "--embedding-dim",
            "4",
            "--seed",
            "7",
            "--json",
            f"{r}/one_class.json",
            "--audit",
            f"{r}/one_class_audit.csv",
        ]
    return commands


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("cli")
    _prepare_files(root)
    # One thread each: the runs share the cores; results do not depend on the thread count.
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")

    def run(argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "faithful", *argv], capture_output=True, text=True, env=env, timeout=600
        )

    commands = _commands(root)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = dict(zip(commands, pool.map(run, commands.values()), strict=True))
    for result in results.values():
        result.root = root  # type: ignore[attr-defined]
    return results


def _ok(run: subprocess.CompletedProcess) -> Path:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run.root  # type: ignore[attr-defined]


def _expected(real, synthetic, **kwargs) -> dict[str, torch.Tensor]:
    return alpha_precision_beta_recall_authenticity(torch.as_tensor(real), torch.as_tensor(synthetic), **kwargs)


def _check_scalars(document: dict, expected: dict[str, torch.Tensor], keys=SCALARS) -> None:
    for key in keys:
        assert document[key] == pytest.approx(expected[key].item(), abs=1e-12), key


def _read_audit(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _check_audit(rows: list[dict[str, str]], expected: dict[str, torch.Tensor], alpha: float) -> None:
    assert len(rows) == expected["alpha_level"].numel()
    assert list(rows[0]) == ["index", "alpha_level", "authentic", "distance_to_real", "nearest_real_index", "keep"]
    for j, row in enumerate(rows):
        level = expected["alpha_level"][j].item()
        assert int(row["index"]) == j
        if math.isinf(level):
            assert row["alpha_level"] == "inf"
        else:
            assert float(row["alpha_level"]) == level
        assert row["authentic"] == ("true" if expected["authentic"][j] else "false")
        assert float(row["distance_to_real"]) == expected["distance_to_real"][j].item()
        assert int(row["nearest_real_index"]) == expected["nearest_real_index"][j].item()
        keep = level <= alpha and bool(expected["authentic"][j])
        assert row["keep"] == ("true" if keep else "false")


# ------------------------------------------------------------------------------------------------ formats


def test_npy_json_plot_audit_and_intervals(runs):
    root = _ok(runs["npy"])
    real, synthetic = _arrays()
    expected = _expected(real, synthetic, sample_level=True, confidence_level=0.9, num_resamples=200, seed=3)
    document = json.loads((root / "npy.json").read_text())
    _check_scalars(document, expected, SCALARS + INTERVALS)
    for key in ("thresholds", "alpha_precision_curve", "beta_recall_curve"):
        assert document["curves"][key] == expected[key].tolist()
    settings = document["settings"]
    assert (settings["n"], settings["m"], settings["d"], settings["k"]) == (160, 130, 4, 5)
    assert settings["confidence_level"] == 0.9 and settings["seed"] == 3 and settings["protocol"] == "paper"
    assert document["counts"]["authentic"] == int(expected["authentic"].sum())
    assert document["counts"]["inside_alpha_support"] == int((expected["alpha_level"] <= 0.9).sum())

    png = (root / "npy.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000

    rows = _read_audit(root / "npy_audit.csv")
    _check_audit(rows, expected, alpha=0.9)
    assert {row["alpha_level"] for row in rows[-5:]} == {"inf"}  # the far samples
    assert all(row["authentic"] == "false" for row in rows[:15])  # the near-copies

    # The summary table on stdout, the progress lines on stderr.
    out = runs["npy"].stdout
    assert "n = 160" in out and "m = 130" in out and "d = 4" in out and "k = 5" in out
    assert f"{expected['alpha_precision'].item():.4f}" in out and "90% interval" in out
    assert f"authentic synthetic samples: {int(expected['authentic'].sum())} of 130" in out
    assert "computing the metrics" in runs["npy"].stderr


def test_pt_with_a_dict_of_one_tensor_and_standardize(runs):
    root = _ok(runs["pt"])
    real, synthetic = (torch.tensor(x, dtype=torch.float32) for x in _arrays())
    mean, std = real.double().mean(dim=0), real.double().std(dim=0, correction=0)
    expected = _expected(((real - mean) / std).float(), ((synthetic - mean) / std).float(), k=3)
    _check_scalars(json.loads((root / "pt.json").read_text()), expected)
    assert runs["pt"].stderr == ""  # --quiet
    assert "alpha_precision" in runs["pt"].stdout


def test_csv_numeric_with_the_reference_protocol(runs):
    root = _ok(runs["csv"])
    real, synthetic = _arrays()
    expected = _expected(real, synthetic, protocol="reference", sample_level=True)
    document = json.loads((root / "csv.json").read_text())
    _check_scalars(document, expected)
    assert document["settings"]["k"] == 1 and document["settings"]["num_thresholds"] == 30
    assert document["settings"]["features"] == ["x0", "x1", "x2", "x3"]
    _check_audit(_read_audit(root / "csv_audit.csv"), expected, alpha=1.0)


def test_csv_with_a_categorical_column_is_one_hot_encoded_over_reals_categories(runs):
    root = _ok(runs["categorical"])
    real, synthetic = _expected_categorical()
    document = json.loads((root / "cat.json").read_text())
    assert document["settings"]["features"] == ["x0", "x1", "x2", "x3", "color_green", "color_red"]
    assert document["settings"]["encoding"]["categorical_columns"] == ["color"]
    _check_scalars(document, _expected(real, synthetic))
    assert "4 numeric and 1 categorical columns -> 6 features" in runs["categorical"].stderr


def _synthcity_expected(drop_last: bool) -> dict[str, torch.Tensor]:
    from faithful.tabular import min_max_scale

    real, synthetic = min_max_scale(*_expected_categorical())
    if drop_last:
        real, synthetic = real[:, :-1], synthetic[:, :-1]
    return _expected(real, synthetic, protocol="synthcity")


def test_synthcity_protocol_min_max_scales_after_encoding(runs):
    document = json.loads((_ok(runs["synthcity"]) / "synthcity.json").read_text())
    _check_scalars(document, _synthcity_expected(drop_last=False))
    assert document["settings"]["protocol"] == "synthcity" and document["settings"]["k"] == 1
    assert "min-max scaling the 6 features" in runs["synthcity"].stderr
    dropped = json.loads((_ok(runs["synthcity_drop_last"]) / "synthcity_drop_last.json").read_text())
    _check_scalars(dropped, _synthcity_expected(drop_last=True))
    assert dropped["settings"]["features"] == ["x0", "x1", "x2", "x3", "color_green"]
    assert dropped["alpha_precision"] != document["alpha_precision"]


def test_parquet_reads_like_csv(runs):
    if "parquet" not in runs:
        pytest.skip("pyarrow is not installed")
    document = json.loads((_ok(runs["parquet"]) / "parquet.json").read_text())
    _check_scalars(document, _expected(*_expected_categorical()))


def test_missing_values_dropped_on_request_keep_the_file_row_numbers(runs):
    root = _ok(runs["missing_drop"])
    real, synthetic = _arrays()
    kept = [j for j in range(len(synthetic)) if j not in (3, 9)]
    expected = _expected(real, np.round(synthetic, 6)[kept], sample_level=True)
    document = json.loads((root / "missing_drop.json").read_text())
    _check_scalars(document, expected)
    assert document["settings"]["encoding"]["dropped_rows"] == {"REAL": 0, "SYNTH": 2}
    assert "dropping 2 of 130 rows with missing values" in runs["missing_drop"].stderr
    rows = _read_audit(root / "missing_drop_audit.csv")
    assert [int(row["index"]) for row in rows] == kept  # 0-based data rows of SYNTH, the dropped ones skipped


def test_overwrite_replaces_an_existing_output(runs):
    root = _ok(runs["overwrite"])
    assert json.loads((root / "replaced.json").read_text())["settings"]["protocol"] == "paper"
    assert not [p for p in root.iterdir() if p.name.startswith(".replaced.json")]  # no staging file left


def test_one_class_embedding(runs):
    if "one_class" not in runs:
        pytest.skip("faithful.embedding is not available in this checkout")
    from faithful.embedding import OneClassEmbedding

    root = _ok(runs["one_class"])
    real, synthetic = (torch.tensor(x) for x in _arrays())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocess: the same fit, bit for bit
    try:
        embedding = OneClassEmbedding(4, out_features=4).fit(real, epochs=3, seed=7, progress=False)
        with torch.no_grad():
            expected = _expected(embedding(real), embedding(synthetic), center=embedding.center, sample_level=True)
    finally:
        torch.set_num_threads(threads)
    document = json.loads((root / "one_class.json").read_text())
    assert document["settings"]["embedding"] == "one-class" and document["settings"]["epochs"] == 3
    for key in SCALARS:
        assert document[key] == pytest.approx(expected[key].item(), abs=1e-6), key
    rows = _read_audit(root / "one_class_audit.csv")
    assert [row["authentic"] == "true" for row in rows] == expected["authentic"].tolist()
    assert "fitting the one-class embedding" in runs["one_class"].stderr


# ------------------------------------------------------------------------------------------------ bad input


def _error(run: subprocess.CompletedProcess, *fragments: str) -> str:
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("faithful: error: "), run.stderr
    assert [line for line in run.stderr.splitlines() if "error" in line] == [last]
    for fragment in fragments:
        assert fragment in last, (fragment, last)
    assert run.stdout == ""
    return last


def test_error_unreadable_npy(runs):
    _error(runs["garbage_npy"], "garbage.npy", "not a NumPy .npy file")


def test_error_unreadable_pt(runs):
    _error(runs["garbage_pt"], "SYNTH file", "garbage.pt", "cannot read", "torch.load")


def test_error_wrong_extension(runs):
    _error(runs["wrong_extension"], "real.txt", "unsupported extension '.txt'", ".npy, .pt, .csv")


def test_error_mismatched_columns(runs):
    _error(
        runs["mismatched_columns"],
        "other_columns.csv",
        "do not match",
        "missing: ['x3']",
        "not in the real table: ['y']",
    )


def test_error_nan_rows_are_reported_by_data_row_number(runs):
    # NaN in 0-based rows 2 and 6 (empty in the CSV: missing values), inf in row 8: data rows 3, 7 and 9.
    _error(runs["nan_rows_csv"], "column 'x0'", "nan_rows.csv", "infinite", "data row 9 (1-based, header excluded)")
    _error(runs["nan_rows_npy"], "nan_rows.npy", "3 of 130 rows", "1-based rows", "[3, 7, 9]")


def test_error_empty_file(runs):
    _error(runs["empty"], "empty.csv", "is empty")
    _error(runs["header_only"], "header_only.csv", "no data rows")


def test_error_missing_file(runs):
    _error(runs["missing_file"], "no_such_file.npy", "does not exist")


def test_error_too_few_rows(runs):
    _error(runs["too_few_rows"], "3 samples", "at least k + 1 = 6")


def test_error_feature_mismatch(runs):
    _error(runs["feature_mismatch"], "4 features", "has 3")


def test_error_pt_dict_with_several_tensors(runs):
    _error(runs["two_tensors"], "2 tensors", "'a'", "'b'", "exactly one tensor")


def _nothing_written(run: subprocess.CompletedProcess, name: str) -> None:
    assert not (run.root / name).exists()  # type: ignore[attr-defined]


def test_error_unseen_category(runs):
    run = runs["unseen_category"]
    _error(run, "column 'color'", "synthetic_cat.csv", "categories the real table does not have ('blue'", "data rows")
    _nothing_written(run, "no1.json")


def test_error_stray_text_in_a_numeric_column(runs):
    # 0-based rows 4 and 11 are data rows 5 and 12.
    run = runs["stray_text"]
    _error(run, "column 'x1'", "numeric in the real table", "stray_text.csv", "data rows 5, 12", "'oops', '1.23kg'")
    _nothing_written(run, "no2.json")
    run = runs["stray_text_real"]
    _error(
        run, "column 'x2'", "REAL file", "stray_text_real.csv", "holds numbers and 1 text cells", "data row 7", "'n.a.'"
    )
    _nothing_written(run, "no3.json")


def test_error_missing_values_name_the_rows(runs):
    run = runs["missing_values"]
    _error(run, "missing_values.csv", "missing values in 2 of its 130 rows", "data rows 4, 10", "['x0', 'x2']")
    _nothing_written(run, "no4.json")


def test_error_output_is_an_input_and_the_input_is_untouched(runs):
    root = runs["output_is_input"].root
    real, synthetic = _arrays()
    _error(runs["output_is_input"], "--json", "real.csv", "is the REAL input file")
    expected = root / "expected_real.csv"
    _write_csv(expected, [f"x{i}" for i in range(4)], real.tolist())
    assert (root / "real.csv").read_bytes() == expected.read_bytes()
    # --overwrite never applies to inputs, whatever the spelling of the path.
    _error(runs["output_is_input_overwrite"], "--audit", "is the SYNTH input file")
    np.testing.assert_array_equal(np.load(root / "synthetic.npy"), synthetic)


def test_error_two_outputs_on_one_path(runs):
    _error(runs["two_outputs_one_path"], "--json and --plot both write to", "twice.out")
    _nothing_written(runs["two_outputs_one_path"], "twice.out")


def test_error_existing_output_without_overwrite(runs):
    run = runs["existing_output"]
    _error(run, "--json file", "existing.json", "exists; pass --overwrite")
    assert (run.root / "existing.json").read_text() == "keep me\n"  # type: ignore[attr-defined]


def test_error_table_option_on_arrays(runs):
    _error(runs["table_option_on_arrays"], "--missing only apply to tables")


def test_error_bad_option_value(runs):
    _error(runs["bad_option"], "--confidence", "strictly between 0 and 1", "1.5")


def test_error_unwritable_output(runs):
    _error(runs["unwritable_output"], "cannot write the --json file", "x.json", "does not exist")


def test_error_no_command(runs):
    _error(runs["no_command"], "choose a command")


def test_demo_is_dispatched(runs):
    run = runs["demo_help"]
    if importlib.util.find_spec("faithful.demo") is None:
        _error(run, "demo is not available")
    else:
        assert run.returncode == 0, run.stderr
        assert "usage" in run.stdout.lower()

"""``faithful evaluate --report DIR`` (issue 13): curves, histograms and the three views as files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from faithful.cli import main
from faithful.functional import alpha_precision_beta_recall_authenticity
from faithful.plotting import grid_cell
from faithful.views import relative_distance

COLUMNS = ["age", "income", "height"]


def _csv(path: Path, rows: np.ndarray) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows.tolist())


def test_tables_show_the_most_copied_rows_beside_their_nearest_real_rows(tmp_path, capsys):
    generator = np.random.default_rng(0)
    real = np.round(generator.normal(size=(150, 3)), 4)
    synthetic = np.concatenate([real[:4] + 1e-3, np.round(generator.normal(size=(96, 3)) * 1.3, 4)])
    _csv(tmp_path / "real.csv", real)
    _csv(tmp_path / "synthetic.csv", synthetic)
    out = tmp_path / "report"
    assert main(["evaluate", str(tmp_path / "real.csv"), str(tmp_path / "synthetic.csv"), "--report", str(out)]) == 0
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(
        ["curves.png", "distance_to_real.png", "alpha_level.png", "report.md"]
        + [f"{view}.{ext}" for view in ("copies", "atypical", "missed") for ext in ("csv", "md")]
    )
    for name in ("curves.png", "distance_to_real.png", "alpha_level.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"

    expected = alpha_precision_beta_recall_authenticity(
        torch.as_tensor(real), torch.as_tensor(synthetic), sample_level=True
    )
    ratio = relative_distance(expected)
    with (out / "copies.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:3] == ["rank", "synthetic_index", "relative_distance"]
    assert [f"generated:{c}" for c in COLUMNS] + [f"real:{c}" for c in COLUMNS] == list(rows[0])[-6:]
    assert [int(row["synthetic_index"]) for row in rows] == torch.sort(ratio, stable=True).indices[:8].tolist()
    assert sorted(int(row["synthetic_index"]) for row in rows[:4]) == [0, 1, 2, 3]
    for row in rows:
        j, i = int(row["synthetic_index"]), int(row["nearest_real_index"])
        assert i == int(expected["nearest_real_index"][j])
        assert [float(row[f"generated:{c}"]) for c in COLUMNS] == pytest.approx(synthetic[j].tolist())
        assert [float(row[f"real:{c}"]) for c in COLUMNS] == pytest.approx(real[i].tolist())
    with (out / "atypical.csv").open(newline="") as handle:
        levels = [float(row["alpha_level"]) for row in csv.DictReader(handle)]
    assert levels == sorted(levels, reverse=True) and levels[0] == float(expected["alpha_level"].max())
    with (out / "missed.csv").open(newline="") as handle:
        missed = list(csv.DictReader(handle))
    for row in missed:
        i = int(row["real_index"])
        assert not bool(expected["covered"][i])
        assert [float(row[f"real:{c}"]) for c in COLUMNS] == pytest.approx(real[i].tolist())
    page = (out / "report.md").read_text()
    assert "| authenticity |" in page and "## copies" in page and "real:income" in page


def test_npy_images_give_png_grids_pixel_for_pixel(tmp_path):
    generator = torch.Generator().manual_seed(1)
    real = (torch.rand(90, 36, generator=generator) < 0.5).double()
    synthetic = torch.cat([real[:10], (torch.rand(50, 36, generator=generator) < 0.5).double()])
    np.save(tmp_path / "real.npy", real.numpy())
    np.save(tmp_path / "synthetic.npy", synthetic.numpy())
    out = tmp_path / "report"
    argv = ["evaluate", str(tmp_path / "real.npy"), str(tmp_path / "synthetic.npy"), "--report", str(out)]
    assert main([*argv, "--image-shape", "1,6,6"]) == 0
    assert {"copies.png", "atypical.png", "missed.png"} <= {path.name for path in out.iterdir()}
    assert not (out / "copies.csv").exists()

    from PIL import Image

    expected = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
    copies = torch.sort(relative_distance(expected), stable=True).indices[:8].tolist()
    grid = np.asarray(Image.open(out / "copies.png").convert("RGB"))
    for row, j in enumerate(copies):
        for neighbour, sample in ((False, synthetic[j]), (True, real[expected["nearest_real_index"][j]])):
            top, left, height, width = grid_cell((1, 6, 6), row, neighbour)
            block = grid[top : top + height : height // 6, left : left + width : width // 6, 0]
            assert np.array_equal(block, (sample.reshape(6, 6) * 255).numpy().astype(np.uint8))


def test_report_errors_are_one_line(tmp_path, capsys):
    np.save(tmp_path / "real.npy", np.random.default_rng(0).normal(size=(40, 4)))
    files = [str(tmp_path / "real.npy"), str(tmp_path / "real.npy")]
    (tmp_path / "afile").write_text("x")
    assert main(["evaluate", *files, "--report", str(tmp_path / "afile")]) == 2
    assert "--report directory" in capsys.readouterr().err
    assert main(["evaluate", *files, "--report", str(tmp_path / "no" / "dir")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", *files, "--image-shape", "1,2,2"]) == 2
    assert "add --report DIR" in capsys.readouterr().err
    assert main(["evaluate", *files, "--report", str(tmp_path / "r"), "--image-shape", "1,3,3"]) == 2
    assert "holds 9 values per sample, but REAL has 4" in capsys.readouterr().err
    assert main(["evaluate", *files, "--report", str(tmp_path / "r"), "--image-shape", "2,2,1"]) == 2
    assert "expected H,W or C,H,W with C 1 or 3" in capsys.readouterr().err


def test_report_directory_is_checked_like_the_other_outputs(tmp_path, capsys):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "real.npy", rng.normal(size=(40, 4)))
    np.save(tmp_path / "synthetic.npy", rng.normal(size=(30, 4)))
    files = [str(tmp_path / "real.npy"), str(tmp_path / "synthetic.npy")]
    # A directory that holds an input is never a report directory.
    assert main(["evaluate", *files, "--report", str(tmp_path), "--quiet"]) == 2
    assert "holds the REAL input file" in capsys.readouterr().err
    report = tmp_path / "report"
    assert main(["evaluate", *files, "--report", str(report), "--quiet"]) == 0
    written = {path.name: path.read_bytes() for path in report.iterdir()}
    assert "curves.png" in written and "report.md" in written
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.")]  # no staging left behind
    # Filled: refused without --overwrite, nothing changed; replaced with it.
    assert main(["evaluate", *files, "--report", str(report), "--quiet"]) == 2
    assert "not empty; pass --overwrite" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in report.iterdir()} == written
    assert main(["evaluate", *files, "--report", str(report), "--overwrite", "--quiet"]) == 0
    assert set(path.name for path in report.iterdir()) == set(written)

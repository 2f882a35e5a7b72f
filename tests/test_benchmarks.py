"""The neighbour benchmark runs end to end at tiny sizes. No timing is asserted: machines are noisy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_neighbors.py"
# Runs the script with `import faiss` failing, as on an install without the optional `bench` extra.
WITHOUT_FAISS = (
    "import runpy, sys; sys.modules['faiss'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _run(*command: str) -> str:
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _faiss_installed() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def test_quick_run_prints_the_tables():
    out = _run(str(SCRIPT), "--quick", "--threads", "1")
    assert "| n = m | d | method | wall time (s) | vs reference | vs faiss | extra peak RSS (MB) |" in out
    for method in (
        "reference approach (scikit-learn)",
        "faithful, first compute (functional)",
        "faithful, metric first compute",
        "faithful, metric per-epoch compute (real side cached)",
    ):
        assert f"| 600 | 32 | {method} |" in out, method
    assert ("| 600 | 32 | faiss IndexFlatL2 |" in out) == _faiss_installed()
    assert "Goals at n = m = 600, d = 32:" in out
    assert "| measured: extra peak RSS of the compute (child process) |" in out
    assert "failed" not in out


def test_quick_run_without_faiss_skips_its_column():
    out = _run("-c", WITHOUT_FAISS, str(SCRIPT), "--quick", "--threads", "1", "--no-large", "--no-memory")
    assert "faiss is not installed" in out
    assert "faiss IndexFlatL2" not in out
    assert "| 600 | 32 | faithful, first compute (functional) |" in out


@pytest.mark.ddp
def test_ddp_benchmark_quick_run_compares_one_and_two_processes():
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ddp.py"
    out = _run(str(script), "--quick")
    assert "| 1,500 | 8 | 1 |" in out and "| 1,500 | 8 | 2 |" in out
    assert "| yes |" in out  # 2 processes gave the 1-process result bit for bit
    assert "Goal: 2 processes x 1 thread" in out


def test_grid_benchmark_quick_run_prints_the_table():
    from faithful.functional import _kernels

    if not _kernels.AVAILABLE:
        pytest.skip("needs numba")
    out = _run(str(SCRIPT.parent / "bench_grid.py"), "--quick", "--repeats", "1")
    assert "| n = m | d | grid (s) | tree (s) | grid / tree |" in out
    assert out.count("| 500 |") == 3


def test_trees_benchmark_quick_run_prints_the_table():
    from faithful.functional import _kernels

    if not _kernels.AVAILABLE:
        pytest.skip("needs numba")
    out = _run(str(SCRIPT.parent / "bench_trees.py"), "--quick", "--repeats", "1", "--dims", "5,8")
    header = "| n = m | d | compiled (s) | cKDTree (s) | brute (s) | compiled / cKDTree | compiled / brute | faster |"
    assert header in out
    assert out.count("| 500 |") == 2
    out = _run(str(SCRIPT.parent / "bench_trees.py"), "--quick", "--repeats", "1", "--dims", "6", "--no-brute")
    assert "| n = m | d | compiled (s) | cKDTree (s) | compiled / cKDTree | faster |" in out

"""Every neighbour-search algorithm (k-d tree, brute force with worker threads, row shares) against the brute force
over all pairs, the same flags from every algorithm, `algorithm="auto"`'s rule, the tree's per-epoch cache."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from faithful import AlphaPrecisionBetaRecallAuthenticity, OneClassEmbedding
from faithful.functional import (
    _ctree,
    _kernels,
    _parallel,
    alpha_precision_beta_recall_authenticity,
    apra,
    kdtree,
    neighbors,
)
from faithful.functional._checks import ALGORITHMS, _check_algorithm
from tests.test_neighbors import _assert_same, _brute_force, _cases


def _more_cases() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(3)
    cases = _cases()
    cases["d = 1, ties"] = (torch.randint(0, 9, (70, 1), generator=gen).float(), torch.randn(40, 1, generator=gen))
    cases["n = k + 1 (k = 3)"] = (torch.randn(4, 3, generator=gen), torch.randn(5, 3, generator=gen))
    cases["all identical"] = (torch.ones(30, 2), torch.ones(20, 2))
    return cases


def _tree_search(real: torch.Tensor, synthetic: torch.Tensor, k: int):
    index = kdtree.build_tree(real)
    return kdtree.tree_real_knn(index, k), kdtree.tree_cross_nearest(index, synthetic)


def _brute_search(real: torch.Tensor, synthetic: torch.Tensor, k: int, chunk_size: int, workers: int):
    origin = real.to(torch.float64).mean(dim=0)
    prepared_real, prepared_synthetic = neighbors.prepare(real, origin), neighbors.prepare(synthetic, origin)
    knn = neighbors.real_knn(prepared_real, k, chunk_size, workers=workers)
    return knn, neighbors.cross_nearest(prepared_real, prepared_synthetic, chunk_size, workers=workers)


TREES = ["cKDTree", pytest.param("compiled", marks=pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba"))]


@pytest.fixture(params=TREES)
def tree(request, monkeypatch):
    """The k-d tree under test: scipy's cKDTree (proposals re-checked exactly) or the compiled one (numba)."""
    monkeypatch.setattr(_kernels, "AVAILABLE", request.param == "compiled")
    return request.param


@pytest.mark.parametrize("case", list(_more_cases()))
def test_kd_tree_matches_brute_force_over_all_pairs(tree, case):
    real, synthetic = _more_cases()[case]
    for k in (1, 3):
        _assert_same(_tree_search(real, synthetic, k), _brute_force(real, synthetic, k))
        # The tree itself, also at d <= 4 (where build_tree would answer from the grid with numba).
        index = kdtree._tree_index(real)
        assert (index.compiled is not None) == (tree == "compiled" and real.dtype != torch.float16)
        got = kdtree.tree_real_knn(index, k), kdtree.tree_cross_nearest(index, synthetic, kdtree._tree_index(synthetic))
        _assert_same(got, _brute_force(real, synthetic, k))


@pytest.mark.skipif(not _kernels.AVAILABLE, reason="needs numba")
@pytest.mark.parametrize("leaf_size", [1, 2, 5])
@pytest.mark.parametrize("case", [*_more_cases(), "many ties"])
def test_compiled_tree_deep_and_in_blocks_matches_brute_force(monkeypatch, case, leaf_size):
    # Tiny leaves: deep trees, many boxes touching at tied coordinates (the pruning must keep every tie); query
    # blocks of 7 rows shared among 3 threads, answers back on their own rows.
    monkeypatch.setattr(_ctree, "LEAF_SIZE", leaf_size)
    monkeypatch.setattr(_ctree, "_BLOCK", 7)
    real, synthetic = _tie_case() if case == "many ties" else _more_cases()[case]
    index, synthetic_index = kdtree._tree_index(real), kdtree._tree_index(synthetic)
    if real.dtype == torch.float16:  # no compiled distances for half precision: cKDTree
        assert index.compiled is None
        return
    assert index.compiled is not None
    built, dim = index.compiled, real.shape[1]
    for node in np.flatnonzero(built.child < 0):  # leaves of at most leaf_size points, or of identical points
        low, high = built.box[node, :dim], built.box[node, dim:]
        assert built.stop[node] - built.start[node] <= leaf_size or np.array_equal(low, high)
    assert sorted(built.order.tolist()) == list(range(len(real)))
    for k in (1, 3, 6):
        k = min(k, len(real) - 1)
        got = kdtree.tree_real_knn(index, k, workers=3), kdtree.tree_cross_nearest(index, synthetic, synthetic_index, 3)
        _assert_same(got, _brute_force(real, synthetic, k))


def _tie_case() -> tuple[torch.Tensor, torch.Tensor]:
    """40 copies of one point among 30 others, and 5 more copies among the synthetic samples."""
    gen = torch.Generator().manual_seed(8)
    real = torch.cat([torch.zeros(40, 3), torch.randn(30, 3, generator=gen)])
    synthetic = torch.cat([torch.zeros(5, 3), torch.randn(20, 3, generator=gen)])
    return real, synthetic


@pytest.mark.parametrize("case", list(_more_cases()))
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_brute_worker_threads_match_brute_force_over_all_pairs(monkeypatch, case, workers):
    # Tiny tiles and bands: many row bands shared among the worker threads, merged at the end.
    monkeypatch.setattr(neighbors, "_TILE", 8)
    real, synthetic = _more_cases()[case]
    for k in (1, 3):
        _assert_same(_brute_search(real, synthetic, k, 5, workers), _brute_force(real, synthetic, k))


@pytest.mark.parametrize("case", [*_more_cases(), "many ties"])
def test_tree_queries_in_spatial_order_come_back_to_their_rows(monkeypatch, case):
    # From _ORDER_MIN_ROWS query rows on (0 here: every query, also the re-queried rows) the cKDTree is queried in
    # the order of a k-d tree's leaves, in blocks of _BLOCK rows; the answers must land on their own rows.
    monkeypatch.setattr(_kernels, "AVAILABLE", False)
    monkeypatch.setattr(kdtree, "_ORDER_MIN_ROWS", 0)
    monkeypatch.setattr(kdtree, "_BLOCK", 7)
    orders = []
    leaf_order = kdtree._blocks.leaf_order
    monkeypatch.setattr(kdtree._blocks, "leaf_order", lambda points: orders.append(len(points)) or leaf_order(points))
    real, synthetic = _tie_case() if case == "many ties" else _more_cases()[case]
    # The tree itself.
    index, synthetic_index = kdtree._tree_index(real), kdtree._tree_index(synthetic)
    for k in (1, 3):
        got = kdtree.tree_real_knn(index, k), kdtree.tree_cross_nearest(index, synthetic, synthetic_index)
        _assert_same(got, _brute_force(real, synthetic, k))
    assert len(real) in orders and len(synthetic) in orders


def test_kd_tree_requeries_rows_with_many_ties(tree):
    # 40 copies of one point: cKDTree's first query (k + 2 neighbours) cannot see past the ties, so rows are
    # queried again with more neighbours until the answer is certain; ties go to the smallest index.
    real, synthetic = _tie_case()
    _assert_same(_tree_search(real, synthetic, 2), _brute_force(real, synthetic, 2))
    index = kdtree._tree_index(real)
    got = kdtree.tree_real_knn(index, 2), kdtree.tree_cross_nearest(index, synthetic)
    _assert_same(got, _brute_force(real, synthetic, 2))


def test_kd_tree_data_of_any_scale(tree):
    gen = torch.Generator().manual_seed(5)
    for scale in (2.0**600, 2.0**-600, 1e20):
        real = torch.randn(60, 4, generator=gen, dtype=torch.float64) * scale
        synthetic = torch.randn(45, 4, generator=gen, dtype=torch.float64) * scale
        _assert_same(_tree_search(real, synthetic, 2), _brute_force(real, synthetic, 2))


@pytest.mark.parametrize("share", [slice(0, 13), slice(13, 50), slice(50, 90), slice(37, 38), slice(20, 20)])
def test_row_shares_match_the_full_search(monkeypatch, share):
    monkeypatch.setattr(neighbors, "_TILE", 16)
    real = _cases()["lattice"][0]  # duplicates: self must be excluded by its global index
    origin = real.mean(dim=0)
    prepared = neighbors.prepare(real, origin)
    full = neighbors.real_knn(prepared, 3)
    assert torch.equal(neighbors.real_knn(prepared, 3, 7, rows=share), full[share])
    assert torch.equal(neighbors.real_knn(prepared, 3, rows=share, workers=1), full[share])
    assert torch.equal(kdtree.tree_real_knn(kdtree.build_tree(real), 3, rows=share), full[share])


def test_row_share_must_be_contiguous():
    real = torch.randn(20, 2)
    with pytest.raises(ValueError, match=r"Expected argument `rows` to be a contiguous slice"):
        neighbors.real_knn(neighbors.prepare(real, real.double().mean(0)), 2, rows=slice(0, 10, 2))
    with pytest.raises(ValueError, match=r"Expected argument `rows` to be a contiguous slice"):
        kdtree.tree_real_knn(kdtree.build_tree(real), 2, rows=slice(0, 10, 2))


@pytest.mark.parametrize("case", ["gauss", "lattice", "far, near-duplicates", "d = 1, ties"])
def test_every_algorithm_gives_the_same_flags(case):
    real, synthetic = _more_cases()[case]
    results = {
        algorithm: alpha_precision_beta_recall_authenticity(
            real, synthetic, k=3, sample_level=True, algorithm=algorithm, chunk_size=16
        )
        for algorithm in ALGORITHMS
    }
    for algorithm in ("kd_tree", "auto"):
        assert results[algorithm].keys() == results["brute"].keys()
        for key, value in results["brute"].items():
            assert torch.equal(results[algorithm][key], value), (algorithm, key)


def test_auto_logs_its_choice_at_the_crossover(caplog, monkeypatch):
    gen = torch.Generator().manual_seed(2)
    caplog.set_level(logging.DEBUG, logger="faithful.functional.apra")
    for dim, expected in ((apra._KD_TREE_MAX_DIM, "kd_tree"), (apra._KD_TREE_MAX_DIM + 1, "brute")):
        caplog.clear()
        alpha_precision_beta_recall_authenticity(torch.randn(50, dim, generator=gen), torch.randn(40, dim))
        assert f"neighbour search: algorithm={expected} (n=50 real samples, d={dim}" in caplog.text
    # Large real sets: the tree up to the second crossover (decided from the shapes only), which is higher with
    # numba (the brute force's tile products and filter are compiled too).
    for compiled in (True, False):
        monkeypatch.setattr(_kernels, "AVAILABLE", compiled)
        large = apra._KD_TREE_LARGE_N[compiled]
        for num, dim, expected in (
            (large, apra._KD_TREE_MAX_DIM_LARGE, "kd_tree"),
            (large - 1, apra._KD_TREE_MAX_DIM_LARGE, "brute"),
            (large, apra._KD_TREE_MAX_DIM_LARGE + 1, "brute"),
        ):
            assert apra._resolve_algorithm("auto", torch.empty(num, dim)) == expected
    assert apra._KD_TREE_LARGE_N[True] > apra._KD_TREE_LARGE_N[False]
    for algorithm in ("kd_tree", "brute"):
        assert apra._resolve_algorithm(algorithm, torch.empty(10, 100)) == algorithm


def test_auto_picks_brute_and_kd_tree_refuses_off_the_cpu():
    real = torch.empty(100, 2, device="meta")  # stands in for a GPU tensor: not on the CPU
    assert apra._resolve_algorithm("auto", real) == "brute"
    with pytest.raises(ValueError, match=r"Expected CPU tensors with `algorithm='kd_tree'`.*meta"):
        apra._resolve_algorithm("kd_tree", real)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_kd_tree_on_a_cuda_tensor_is_refused():
    real, synthetic = torch.randn(50, 3, device="cuda"), torch.randn(40, 3, device="cuda")
    with pytest.raises(ValueError, match=r"Expected CPU tensors with `algorithm='kd_tree'`"):
        alpha_precision_beta_recall_authenticity(real, synthetic, algorithm="kd_tree")


@pytest.mark.parametrize("bad", ["ball_tree", "KD_TREE", "", None, 1])
def test_bad_algorithm_names_the_choices(bad):
    message = r"Expected argument `algorithm` to be one of \('auto', 'kd_tree', 'brute'\), but got"
    with pytest.raises(ValueError, match=message):
        _check_algorithm(bad)
    with pytest.raises(ValueError, match=message):
        alpha_precision_beta_recall_authenticity(torch.randn(20, 2), torch.randn(20, 2), algorithm=bad)
    with pytest.raises(ValueError, match=message):
        AlphaPrecisionBetaRecallAuthenticity(algorithm=bad)


@pytest.mark.parametrize("algorithm", ["kd_tree", "brute"])
def test_metric_builds_the_real_side_once_per_real_set(monkeypatch, algorithm):
    built = []
    real_statistics = apra._real_statistics
    build_tree = apra.build_tree

    def counting_statistics(*args, **kwargs):
        built.append("stats")
        return real_statistics(*args, **kwargs)

    def counting_tree(*args, **kwargs):
        built.append("tree")
        return build_tree(*args, **kwargs)

    gen = torch.Generator().manual_seed(4)
    real = torch.randn(80, 3, generator=gen)
    synthetic_sets = [torch.randn(50, 3, generator=gen) for _ in range(3)]  # three "epochs"
    expected = [alpha_precision_beta_recall_authenticity(real, s, k=3, algorithm="brute") for s in synthetic_sets]
    # Counted from here on: only what the metric builds.
    monkeypatch.setattr(apra, "_real_statistics", counting_statistics)
    monkeypatch.setattr(apra, "build_tree", counting_tree)
    metric = AlphaPrecisionBetaRecallAuthenticity(k=3, reset_real_features=False, algorithm=algorithm)
    metric.update(real, real=True)
    for synthetic, want in zip(synthetic_sets, expected, strict=True):
        metric.reset()
        metric.update(synthetic, real=False)
        got = metric.compute()
        for key in ("alpha_precision", "beta_recall", "authenticity"):
            assert torch.equal(got[key], want[key])
    assert built == (["stats", "tree"] if algorithm == "kd_tree" else ["stats"])
    assert metric._scores is not None
    assert (metric._scores.real_statistics.tree is not None) == (algorithm == "kd_tree")
    metric.update(torch.randn(10, 3, generator=gen), real=True)  # the real set changed: built again
    metric.compute()
    assert built == (["stats", "tree"] * 2 if algorithm == "kd_tree" else ["stats"] * 2)


def test_thread_scope_is_restored_even_on_errors():
    before = torch.get_num_threads()
    with _parallel.intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"), _parallel.intra_op_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_one_class_fit_uses_one_thread_for_a_small_network(monkeypatch):
    seen = []
    original = _parallel.intra_op_threads

    def spy(num):
        seen.append(num)
        return original(num)

    monkeypatch.setattr("faithful.embedding.intra_op_threads", spy)
    before = torch.get_num_threads()
    embedding = OneClassEmbedding(6, hidden=(16,), out_features=4)
    embedding.fit(torch.randn(64, 6), epochs=2, progress=False)
    assert seen == [1]
    assert torch.get_num_threads() == before
    big = OneClassEmbedding(2048, hidden=(2048,), out_features=512)
    assert big._fit_threads(256, torch.device("cpu")) == torch.get_num_threads()


def test_cli_algorithm_option(tmp_path):
    gen = np.random.default_rng(0)
    np.save(tmp_path / "real.npy", gen.integers(0, 4, (120, 3)).astype(np.float32))  # ties and duplicates
    np.save(tmp_path / "synthetic.npy", gen.integers(0, 4, (90, 3)).astype(np.float32))
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    documents = {}
    for algorithm in ("kd_tree", "brute"):
        argv = ["evaluate", str(tmp_path / "real.npy"), str(tmp_path / "synthetic.npy"), "--quiet"]
        argv += ["--algorithm", algorithm, "--json", str(tmp_path / f"{algorithm}.json")]
        done = subprocess.run([sys.executable, "-m", "faithful", *argv], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        documents[algorithm] = json.loads((tmp_path / f"{algorithm}.json").read_text())
    assert documents["kd_tree"] == documents["brute"]
    argv = ["evaluate", str(tmp_path / "real.npy"), str(tmp_path / "synthetic.npy"), "--algorithm", "ball_tree"]
    done = subprocess.run([sys.executable, "-m", "faithful", *argv], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "--algorithm" in done.stderr and "'auto', 'kd_tree', 'brute'" in done.stderr

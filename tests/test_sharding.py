"""The neighbour search shared among processes: every part's share, merged, is the whole search, bit for bit.

The parts are computed one after another here (no process group needed); tests/test_ddp.py runs the same code
in a 2-process gloo group through the metric.
"""

from __future__ import annotations

import pytest
import torch

from faithful.functional import alpha_precision_beta_recall_authenticity
from faithful.functional.apra import Shard, _alpha_precision_beta_recall_authenticity_compute, _share
from faithful.functional.kdtree import build_tree, tree_cross_nearest, tree_real_knn
from faithful.functional.neighbors import (
    cross_nearest,
    merge_cross,
    merge_knn,
    part_of,
    prepare,
    real_knn,
)


def _data(n: int = 700, m: int = 500, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=gen)
    real[100:140] = real[:40]  # duplicates: NND_1 = 0
    synthetic = torch.cat([real[:60] + 1e-6, torch.randint(-2, 3, (m - 60, d), generator=gen).float()])  # ties
    return real, synthetic


def test_parts_hold_every_piece_once_and_balance_the_cost():
    pieces = list(range(0, 10_000, 512))
    costs = [float(min(512, 10_000 - p) * (10_000 - p)) for p in pieces]
    for count in (1, 2, 3, 7, 30):
        parts = [part_of(pieces, costs, (index, count)) for index in range(count)]
        assert sorted(p for part in parts for p in part) == pieces
        if count == 2:
            loads = [sum(costs[pieces.index(p)] for p in part) for part in parts]
            assert max(loads) / sum(loads) < 0.52  # greedy by cost: close to an even split
    assert part_of(pieces, costs, None) == pieces


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("chunk_size", [None, 64])
def test_brute_parts_merge_to_the_whole_search(count, chunk_size):
    real, synthetic = _data()
    origin = real.double().mean(0)
    prepared_real, prepared_synthetic = prepare(real, origin), prepare(synthetic, origin)
    whole_knn = real_knn(prepared_real, 5, chunk_size)
    whole_cross = cross_nearest(prepared_real, prepared_synthetic, chunk_size)
    knn_parts = [real_knn(prepared_real, 5, chunk_size, part=(i, count)) for i in range(count)]
    cross_parts = [cross_nearest(prepared_real, prepared_synthetic, chunk_size, part=(i, count)) for i in range(count)]
    assert torch.equal(merge_knn(knn_parts, 5), whole_knn)
    for got, want in zip(merge_cross(cross_parts), whole_cross, strict=True):
        assert torch.equal(got, want)
    # Each part alone is incomplete (otherwise the test would prove nothing).
    assert not torch.equal(knn_parts[0], whole_knn)


@pytest.mark.parametrize("count", [2, 3])
def test_tree_row_shares_merge_to_the_whole_search(count):
    real, synthetic = _data(d=3)
    tree = build_tree(real)
    whole_knn = tree_real_knn(tree, 5)
    whole_cross = tree_cross_nearest(tree, synthetic)
    shards = [Shard(i, count, lambda t: [t]) for i in range(count)]
    knn_parts, cross_parts = [], []
    for shard in shards:
        rows = _share(len(real), shard)
        part = torch.full_like(whole_knn, float("inf"))
        part[rows] = tree_real_knn(tree, 5, rows=rows)
        knn_parts.append(part)
        cross_parts.append(
            tree_cross_nearest(tree, synthetic, real_rows=rows, synthetic_rows=_share(len(synthetic), shard))
        )
    assert torch.equal(merge_knn(knn_parts, 5), whole_knn)
    for got, want in zip(merge_cross(cross_parts), whole_cross, strict=True):
        assert torch.equal(got, want)


def test_shares_cover_every_row_once():
    for num in (0, 1, 5, 101):
        for count in (1, 2, 3, 8):
            rows = [range(num)[_share(num, Shard(i, count, lambda t: [t]))] for i in range(count)]
            assert [r for share in rows for r in share] == list(range(num))


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_a_lone_process_with_a_trivial_gather_gives_the_unshared_result(algorithm):
    # world_size 1 through the sharded code path: the gather returns the process's own part.
    real, synthetic = _data(d=3)
    shard = Shard(0, 1, lambda t: [t])
    shared = _alpha_precision_beta_recall_authenticity_compute(
        real,
        synthetic,
        k=5,
        center=None,
        protocol="paper",
        num_thresholds=101,
        sample_level=True,
        algorithm=algorithm,
        shard=shard,
    )
    expected = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True, algorithm=algorithm)
    assert shared.result is not None
    for key, value in expected.items():
        assert torch.equal(shared.result[key], value), key

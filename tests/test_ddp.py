"""Two processes (torch.distributed, gloo, CPU) give what one process gives on the same data."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from faithful import AlphaPrecisionBetaRecallAuthenticity
from faithful.functional import alpha_precision_beta_recall_authenticity, apra

pytestmark = pytest.mark.ddp

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data():
    gen = torch.Generator().manual_seed(11)
    real = torch.randn(301, 5, generator=gen)  # odd sizes: uneven shards
    synthetic = torch.cat([real[:40] + 1e-5, torch.randn(163, 5, generator=gen)])
    return real, synthetic


def _worker(rank: int, port: int, out: str, contiguous: bool, algorithm: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    # Record the shards the searches ran with: each process must search only its part.
    shards = []
    statistics, cross = apra._real_statistics, apra._cross_neighbors

    def real_statistics(*args, **kwargs):
        shards.append(("real", tuple(kwargs.get("shard") or args[6])[:2]))
        return statistics(*args, **kwargs)

    def cross_neighbors(*args, **kwargs):
        shards.append(("cross", tuple(kwargs.get("shard") or args[3])[:2]))
        return cross(*args, **kwargs)

    apra._real_statistics, apra._cross_neighbors = real_statistics, cross_neighbors
    try:
        real, synthetic = _data()
        if contiguous:
            real_shard, synthetic_shard = real.tensor_split(WORLD_SIZE)[rank], synthetic.tensor_split(WORLD_SIZE)[rank]
        else:  # DistributedSampler-style interleaving
            real_shard, synthetic_shard = real[rank::WORLD_SIZE], synthetic[rank::WORLD_SIZE]
        metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False, algorithm=algorithm)
        metric.update(real_shard, real=True)
        for batch in synthetic_shard.tensor_split(3):
            metric.update(batch, real=False)
        first = metric.compute()
        scores = metric.sample_scores()
        # A second "epoch" with the real side cached.
        metric.reset()
        metric.update(synthetic_shard + 0.1, real=False)
        second = metric.compute()
        torch.save({"first": first, "scores": scores, "second": second, "shards": shards}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize(("contiguous", "algorithm"), [(True, "brute"), (False, "brute"), (False, "kd_tree")])
def test_two_processes_match_one(tmp_path, contiguous, algorithm):
    out = str(tmp_path / "result")
    mp.start_processes(
        _worker, args=(_free_port(), out, contiguous, algorithm), nprocs=WORLD_SIZE, start_method="spawn"
    )
    results = [torch.load(f"{out}.{rank}") for rank in range(WORLD_SIZE)]
    real, synthetic = _data()
    if contiguous:
        real_order, synthetic_order = torch.arange(len(real)), torch.arange(len(synthetic))
    else:  # the gathered order: rank 0's shard, then rank 1's
        real_order = torch.cat([torch.arange(len(real))[r::WORLD_SIZE] for r in range(WORLD_SIZE)])
        synthetic_order = torch.cat([torch.arange(len(synthetic))[r::WORLD_SIZE] for r in range(WORLD_SIZE)])
    first = alpha_precision_beta_recall_authenticity(
        real[real_order], synthetic[synthetic_order], sample_level=True, algorithm=algorithm
    )
    second = alpha_precision_beta_recall_authenticity(real[real_order], synthetic[synthetic_order] + 0.1)
    for rank, result in enumerate(results):  # each process searched its own part: real side once, cross twice
        assert result["shards"] == [("real", (rank, 2)), ("cross", (rank, 2)), ("cross", (rank, 2))]
    for result in results:  # every process ends with the same result
        for key, value in result["first"].items():
            assert torch.equal(value, first[key]), key
        for key, value in result["scores"].items():
            assert torch.equal(value, first[key]), key
        for key, value in result["second"].items():
            assert torch.equal(value, second[key]), key
    if not contiguous:  # and the scalars do not depend on the order at all
        plain = alpha_precision_beta_recall_authenticity(real, synthetic)
        for key in ("alpha_precision", "beta_recall", "authenticity"):
            assert abs(results[0]["first"][key].item() - plain[key].item()) < 1e-6

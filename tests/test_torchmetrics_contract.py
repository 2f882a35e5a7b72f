"""Our port of torchmetrics' generic metric checks (its ``MetricTester`` and the FID/KID tests), for our metric.

Each check compares the class with the functional API (itself checked against tests/reference_impl.py),
or pins one promise of the torchmetrics contract: forward, several batches, DDP with uneven and empty
shards, dist_sync_on_step, compute_on_cpu, pickling, state_dict round trips, dtypes and set_dtype,
MetricCollection compute groups and plot. The regressions of issue 12 are named after its items.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import socket
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torchmetrics import MetricCollection

from faithful import AlphaPrecisionBetaRecallAuthenticity
from faithful.functional import SAMPLE_KEYS, SCALAR_KEYS, alpha_precision_beta_recall_authenticity
from faithful.functional._checks import PROTOCOLS
from tests.reference_impl import brute_force

COMPUTE = ("alpha_precision", "beta_recall", "authenticity", "thresholds", "alpha_precision_curve", "beta_recall_curve")


def _data(seed=0, n=120, m=90, d=4, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=gen, dtype=torch.float64)
    synthetic = torch.cat([real[:10] + 1e-3, 1.1 * torch.randn(m - 10, d, generator=gen, dtype=torch.float64)])
    return real.to(dtype), synthetic.to(dtype)


def _expected(real, synthetic, **kwargs):
    return alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True, **kwargs)


def _assert_equal(result, expected, keys=COMPUTE):
    assert set(keys) <= set(result)
    for key in keys:
        assert torch.equal(result[key], expected[key]), key


def _filled(metric, real, synthetic, batches=3):
    for batch in real.tensor_split(batches):
        metric.update(batch, real=True)
    for batch in synthetic.tensor_split(batches):
        metric.update(batch, real=False)
    return metric


# ------------------------------------------------------------------------------------- class vs function


@pytest.mark.parametrize("batches", [1, 4, 9])
def test_class_equals_functional_over_several_batches(batches):
    real, synthetic = _data()
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(k=3), real, synthetic, batches)
    expected = _expected(real, synthetic, k=3)
    _assert_equal(metric.compute(), expected)
    _assert_equal(metric.sample_scores(), expected, SAMPLE_KEYS)
    reference = brute_force(real.numpy(), synthetic.numpy(), k=3)
    for key in SCALAR_KEYS:
        assert abs(metric.compute()[key].item() - float(reference[key])) < 1e-4, key


def test_compute_is_repeatable_and_does_not_change_the_state():
    real, synthetic = _data(1)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(), real, synthetic)
    first = metric.compute()
    states = [t.clone() for t in metric.real_features + metric.synthetic_features]
    second = metric.compute()
    _assert_equal(second, first)
    assert all(torch.equal(a, b) for a, b in zip(states, metric.real_features + metric.synthetic_features, strict=True))


# ------------------------------------------------------------------------------------------ item 1: forward


@pytest.mark.parametrize("reset_real_features", [True, False])
def test_forward_scores_the_batch_and_accumulates_like_update(reset_real_features):
    real, synthetic = _data(2)
    metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=reset_real_features)
    plain = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=reset_real_features)
    for batch in real.tensor_split(2):
        assert metric(batch, real=True) is None  # a real batch has no value of its own
        plain.update(batch, real=True)
    for batch in synthetic.tensor_split(3):
        value = metric(batch, real=False)  # the batch against every real sample added so far
        plain.update(batch, real=False)
        _assert_equal(value, _expected(real, batch))
        assert set(value) == set(COMPUTE)
    # The state is exactly what update() builds: 120 real rows, not a copy per forward call (issue 12, item 1).
    assert sum(len(t) for t in metric.real_features) == len(real)
    assert sum(len(t) for t in metric.synthetic_features) == len(synthetic)
    _assert_equal(metric.compute(), plain.compute())
    _assert_equal(metric.compute(), _expected(real, synthetic))
    metric.reset()
    assert sum(len(t) for t in metric.real_features) == (0 if reset_real_features else len(real))


def test_forward_without_real_samples_raises_and_changes_nothing():
    real, synthetic = _data(3)
    metric = AlphaPrecisionBetaRecallAuthenticity()
    with pytest.raises(ValueError, match=r"update\(x, real=True\)` before `forward\(x, real=False\)"):
        metric(synthetic, real=False)
    assert metric.synthetic_features == [] and metric.real_features == []
    metric.update(real, real=True)
    with pytest.raises(ValueError, match="finite"):
        metric(torch.full((3, 4), float("nan")), real=False)
    assert metric.synthetic_features == [] and len(metric.real_features) == 1


def test_forward_with_confidence_intervals_and_a_feature_extractor():
    real, synthetic = _data(4)
    calls = []

    class Double(torch.nn.Module):
        def forward(self, x):
            calls.append(len(x))
            return 2 * x

    metric = AlphaPrecisionBetaRecallAuthenticity(feature_extractor=Double(), confidence_level=0.9, num_resamples=50)
    metric.update(real, real=True)
    value = metric(synthetic, real=False)
    assert calls == [len(real), len(synthetic)]  # forward embeds each batch once
    expected = alpha_precision_beta_recall_authenticity(2 * real, 2 * synthetic, confidence_level=0.9, num_resamples=50)
    assert set(value) == set(expected)
    _assert_equal(value, expected, list(expected))
    _assert_equal(metric.compute(), expected, list(expected))


# ----------------------------------------------------------------------- item 2: stale results after loading


def test_load_state_dict_and_set_dtype_never_give_stale_results():
    real, synthetic = _data(5)
    other_real, other_synthetic = _data(6)
    source = _filled(AlphaPrecisionBetaRecallAuthenticity(), other_real, other_synthetic)
    source.persistent(True)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(), real, synthetic)
    metric.persistent(True)
    metric.compute()
    metric.sample_scores()
    metric.load_state_dict(source.state_dict())
    expected = _expected(other_real, other_synthetic)
    _assert_equal(metric.compute(), expected)
    _assert_equal(metric.sample_scores(), expected, SAMPLE_KEYS)
    # set_dtype after sample_scores(): the next results are those of the float64 states.
    metric.set_dtype(torch.float64)
    assert metric.real_features[0].dtype == torch.float64
    expected64 = _expected(other_real.double(), other_synthetic.double())
    _assert_equal(metric.sample_scores(), expected64, SAMPLE_KEYS)
    _assert_equal(metric.compute(), expected64)
    assert metric.compute()["alpha_precision"].dtype == torch.float64


def test_state_dict_round_trip_into_a_fresh_metric():
    real, synthetic = _data(7)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False), real, synthetic)
    metric.persistent(True)
    fresh = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False)
    fresh.persistent(True)
    fresh.load_state_dict(metric.state_dict())
    with warnings.catch_warnings():  # torchmetrics: "compute called before update" (it counts update calls)
        warnings.simplefilter("ignore", UserWarning)
        _assert_equal(fresh.compute(), metric.compute())


def test_states_changed_in_place_are_seen():
    real, synthetic = _data(8)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(), real, synthetic.clone(), batches=1)
    metric.compute()
    metric.synthetic_features[0].add_(0.25)  # the state itself, changed in place
    _assert_equal(metric.compute(), _expected(real, synthetic + 0.25))


def test_pickling_and_clone_keep_the_states():
    real, synthetic = _data(9)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(k=2), real, synthetic)
    expected = metric.compute()
    for copy in (pickle.loads(pickle.dumps(metric)), metric.clone()):
        _assert_equal(copy.compute(), expected)
        copy.update(synthetic[:5] + 3.0, real=False)
        _assert_equal(copy.compute(), _expected(real, torch.cat([synthetic, synthetic[:5] + 3.0]), k=2))
    _assert_equal(metric.compute(), expected)  # the original is untouched


# --------------------------------------------------------------------------- dtypes, devices, compute_on_cpu


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtypes(dtype):
    real, synthetic = _data(10, dtype=dtype)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(), real, synthetic)
    result = metric.compute()
    _assert_equal(result, _expected(real, synthetic))
    assert result["alpha_precision"].dtype == (torch.float64 if dtype == torch.float64 else torch.float32)


def test_compute_on_cpu_and_dist_sync_on_step_without_a_process_group():
    real, synthetic = _data(11)
    metric = AlphaPrecisionBetaRecallAuthenticity(compute_on_cpu=True, dist_sync_on_step=True)
    metric.update(real, real=True)
    value = metric(synthetic, real=False)
    _assert_equal(value, _expected(real, synthetic))
    assert all(t.device.type == "cpu" for t in metric.real_features + metric.synthetic_features)
    _assert_equal(metric.compute(), _expected(real, synthetic))


# ------------------------------------------------------------------------------------- item 3: requires_grad


def test_inputs_that_require_grad():
    real, synthetic = _data(12)
    real_g, synthetic_g = real.clone().requires_grad_(), synthetic.clone().requires_grad_()
    center = real.mean(0).requires_grad_()
    expected = _expected(real, synthetic, center=real.mean(0))
    _assert_equal(_expected(real_g, synthetic_g, center=center), expected)
    metric = AlphaPrecisionBetaRecallAuthenticity(center=center)
    metric.update(real_g, real=True)
    _assert_equal(metric(synthetic_g, real=False), expected)
    assert not metric.synthetic_features[0].requires_grad
    _assert_equal(metric.compute(), expected)


# ----------------------------------------------------------------------------------------------- item 4: plot


def test_plot_one_result_and_a_sequence():
    import matplotlib.pyplot as plt

    real, synthetic = _data(13)
    metric = _filled(AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False), real, synthetic)
    fig, ax = metric.plot()
    assert len(ax.get_lines()) == 3  # diagonal and both curves
    plt.close(fig)
    history = [metric.compute()]
    for shift in (0.5, 1.0):
        metric.reset()
        metric.update(synthetic + shift, real=False)
        history.append(metric.compute())
    fig, ax = metric.plot(history)
    lines = ax.get_lines()
    labels = {line.get_label() for line in lines}
    assert set(SCALAR_KEYS) <= labels
    ipa = next(line for line in lines if line.get_label() == "alpha_precision")
    assert np.allclose(ipa.get_ydata(), [h["alpha_precision"].item() for h in history])
    plt.close(fig)
    fig, ax = metric.plot(tuple(history[:1]))
    plt.close(fig)
    with pytest.raises(TypeError, match=r"`val` to be None, a result dict"):
        metric.plot([])
    with pytest.raises(ValueError, match=r"missing"):
        metric.plot([{"alpha_precision": torch.tensor(0.5)}])


# ------------------------------------------------------------------------- item 5: MetricCollection groups


def test_compute_groups_keep_the_real_set_of_the_metric_that_keeps_it():
    real, synthetic = _data(14)
    collection = MetricCollection(
        {
            "drops": AlphaPrecisionBetaRecallAuthenticity(reset_real_features=True),
            "keeps": AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False),
            "keeps_k3": AlphaPrecisionBetaRecallAuthenticity(k=3, reset_real_features=False),
        },
        compute_groups=True,
    )
    collection.update(real, real=True)
    collection.update(synthetic, real=False)
    groups = sorted(sorted(group) for group in collection.compute_groups.values())
    assert groups == [["drops"], ["keeps", "keeps_k3"]]  # never a group mixing keep and drop
    result = collection.compute()
    _assert_equal({key: result[f"keeps_{key}"] for key in COMPUTE}, _expected(real, synthetic))
    _assert_equal({key: result[f"keeps_k3_{key}"] for key in COMPUTE}, _expected(real, synthetic, k=3))
    _assert_equal({key: result[f"drops_{key}"] for key in COMPUTE}, _expected(real, synthetic))
    for _ in range(2):
        collection.reset()
        collection.update(synthetic + 0.3, real=False)
        result = {key: value for key, value in collection.items()}
        kept = result["keeps"].compute()
        _assert_equal(kept, _expected(real, synthetic + 0.3))
        _assert_equal(result["keeps_k3"].compute(), _expected(real, synthetic + 0.3, k=3))
        assert result["drops"].real_features == []


# ---------------------------------------------------------------------- item 7: extreme scales and messages


@pytest.mark.parametrize("factor", [1e160, 1e-170, 2.0**600, 2.0**-600])
def test_extreme_float64_scales_give_the_unscaled_numbers(factor):
    real, synthetic = _data(15, n=80, m=60, d=3, dtype=torch.float64)
    result = _expected(real * factor, synthetic * factor)
    reference = brute_force(real.numpy(), synthetic.numpy())  # the unscaled problem, float64 brute force
    for key in SCALAR_KEYS:
        assert abs(result[key].item() - float(reference[key])) < 1e-4, key
    assert result["authenticity"].item() not in (0.0, 1.0)
    unscaled = _expected(real, synthetic)
    for key in ("authentic", "nearest_real_index", "covered", "thresholds"):
        assert torch.equal(result[key], unscaled[key]), key
    distance = result["distance_to_real"] / factor
    assert torch.allclose(distance, torch.tensor(reference["distance_to_real"]), rtol=1e-9, atol=0)
    distances = ("distance_to_real", "distance_to_synthetic", "real_nearest_neighbor_distance")
    if math.frexp(factor)[0] == 0.5:  # a power of two: the very same problem, bit for bit
        _assert_equal(result, unscaled, [key for key in unscaled if key not in distances])
        for key in distances:  # reported in the data's own units
            assert torch.equal(result[key] / factor, unscaled[key]), key
    else:  # 1e160 * x rounds: the same flags, levels within rounding
        for key in ("alpha_precision", "beta_recall", "alpha_level", "beta_level"):
            assert torch.allclose(result[key], unscaled[key], rtol=1e-12, atol=1e-15), key
        for key in distances:
            assert torch.allclose(result[key] / factor, unscaled[key], rtol=1e-12, atol=0), key


def test_extreme_scale_with_a_center_and_through_the_metric():
    real, synthetic = _data(16, n=60, m=40, d=3, dtype=torch.float64)
    center = real.mean(0) + 0.1
    expected = _expected(real, synthetic, center=center)
    metric = AlphaPrecisionBetaRecallAuthenticity(center=center * 2.0**700)
    metric.update(real * 2.0**700, real=True)
    metric.update(synthetic * 2.0**700, real=False)
    _assert_equal(metric.compute(), expected)


def test_ordinary_data_is_not_rescaled():
    from faithful.functional.apra import _search_scale

    real, synthetic = _data(17, dtype=torch.float64)
    assert _search_scale(real * 1e100, synthetic * 1e100, None) == 1.0
    assert _search_scale(real.float() * 1e30, synthetic.float(), None) == 1.0
    scale = _search_scale(real * 1e160, synthetic, None)
    spread = float((real * 1e160).amax(0).sub((real * 1e160).amin(0)).max())
    assert math.frexp(scale)[0] == 0.5 and 0.5 <= spread * scale < 1.0  # a power of two, spread brought to ~1


def test_messages_of_item_7():
    real, synthetic = _data(18)
    with pytest.raises(ValueError, match=r"`real` to have at least 1 feature, but got shape \(5, 0\)"):
        alpha_precision_beta_recall_authenticity(torch.empty(5, 0), torch.empty(3, 0))
    with pytest.raises(ValueError, match=r"`real` to hold data, but got a tensor on the meta device"):
        alpha_precision_beta_recall_authenticity(real.to("meta"), synthetic.to("meta"))
    with pytest.raises(ValueError, match=r"`center` to hold data"):
        alpha_precision_beta_recall_authenticity(real, synthetic, center=torch.empty(4, device="meta"))
    protocols = re.escape(str(tuple(PROTOCOLS)))
    with pytest.raises(ValueError, match=rf"`protocol` to be one of {protocols}, but got \['paper'\]"):
        alpha_precision_beta_recall_authenticity(real, synthetic, protocol=["paper"])  # type: ignore[arg-type]
    _assert_equal(_expected(real, synthetic, k=np.int64(3)), _expected(real, synthetic, k=3))
    metric = AlphaPrecisionBetaRecallAuthenticity(k=np.int64(3))
    metric.update(real, real=np.bool_(True))
    metric.update(synthetic, real=torch.tensor(False))
    _assert_equal(metric.compute(), _expected(real, synthetic, k=3))
    with pytest.raises(TypeError, match=r"`real` to be a bool \(True for real samples.*but got numpy.int64"):
        metric.update(real, real=np.int64(1))
    with pytest.raises(TypeError, match=r"`real` to be a bool .*but got str"):
        metric.update(real, real="yes")
    with pytest.raises(ValueError, match=r"`x` to have at least 1 feature"):
        AlphaPrecisionBetaRecallAuthenticity().update(torch.empty(4, 0), real=True)
    with pytest.raises(ValueError, match=r"`x` to hold data"):
        AlphaPrecisionBetaRecallAuthenticity().update(torch.empty(4, 2, device="meta"), real=True)


# ---------------------------------------------------------------------------- item 10: duplicated real rows


def test_duplicated_real_rows_warn_once_per_real_set():
    real, synthetic = _data(19, n=50)
    doubled = torch.cat([real, real[:20]])
    with pytest.warns(UserWarning, match=r"40 of the 70 real samples have an exact duplicate"):
        alpha_precision_beta_recall_authenticity(doubled, synthetic)
    metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False)
    metric.update(doubled, real=True)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for shift in (0.0, 0.1, 0.2):
            metric.reset()
            metric.update(synthetic + shift, real=False)
            metric.compute()
            metric.sample_scores()
    messages = [str(w.message) for w in record if "exact duplicate" in str(w.message)]
    assert len(messages) == 1 and "near-copies" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no duplicates, no warning
        alpha_precision_beta_recall_authenticity(real, synthetic)


# ----------------------------------------------------------------------------- DDP: two processes, gloo

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shards():
    """(real shards, synthetic shards) per scenario; tiny so the pool stays fast."""
    real, synthetic = _data(20, n=41, m=23, d=3)
    return {
        "uneven": ([real[:30], real[30:]], [synthetic[:3], synthetic[3:]]),
        "empty_synthetic": ([real[:20], real[20:]], [synthetic, synthetic[:0]]),
        "empty_real": ([real[:0], real], [synthetic[:11], synthetic[11:]]),
        "mixed_dtypes": ([real[:20].double(), real[20:]], [synthetic[:11], synthetic[11:].double()]),
    }


def _ddp_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        results = {}
        for name, (real_shards, synthetic_shards) in _shards().items():
            metric = AlphaPrecisionBetaRecallAuthenticity(reset_real_features=False)
            if len(real_shards[rank]):
                metric.update(real_shards[rank], real=True)
            for batch in synthetic_shards[rank].tensor_split(2):
                if len(batch):
                    metric.update(batch, real=False)
            first = metric.compute()
            scores = metric.sample_scores()
            metric.reset()  # a second epoch: only rank 0 adds synthetic samples
            if rank == 0:
                metric.update(synthetic_shards[0] + 0.2, real=False)
            second = metric.compute()
            results[name] = {"first": first, "scores": scores, "second": second}
        # dist_sync_on_step: forward's batch value gathers the real set and the batch of every process.
        real_shards, synthetic_shards = _shards()["uneven"]
        metric = AlphaPrecisionBetaRecallAuthenticity(dist_sync_on_step=True)
        metric.update(real_shards[rank], real=True)
        results["forward"] = metric(synthetic_shards[rank], real=False)
        # Nobody has synthetic samples: every process raises the same error, none hangs.
        empty = AlphaPrecisionBetaRecallAuthenticity()
        empty.update(real_shards[rank], real=True)
        try:
            empty.compute()
        except ValueError as err:
            results["no_synthetic"] = str(err)
        torch.save(results, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
def test_ddp_uneven_and_empty_shards():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result")
        mp.start_processes(_ddp_worker, args=(_free_port(), out), nprocs=WORLD_SIZE, start_method="spawn")
        results = [torch.load(f"{out}.{rank}") for rank in range(WORLD_SIZE)]
    for name, (real_shards, synthetic_shards) in _shards().items():
        real, synthetic = torch.cat(real_shards), torch.cat(synthetic_shards)
        first = _expected(real, synthetic)
        second = _expected(real, synthetic_shards[0] + 0.2)
        for result in results:  # every process ends with the same result
            _assert_equal(result[name]["first"], first)
            _assert_equal(result[name]["scores"], first, SAMPLE_KEYS)
            _assert_equal(result[name]["second"], second)
    real_shards, synthetic_shards = _shards()["uneven"]
    forward = _expected(torch.cat(real_shards), torch.cat(synthetic_shards))
    for result in results:
        _assert_equal(result["forward"], forward)
        assert "with synthetic samples before `compute()`" in result["no_synthetic"]

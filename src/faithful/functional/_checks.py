"""One home for result keys, protocols and input validation, used by every layer.

The functional API, the metric, the callback, the CLI and the embedding all validate through these
functions, so a bad input gets the same message whichever door it came in by. Validation happens at the
public boundary; the computation behind it trusts its inputs.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ALGORITHMS",
    "ALPHA_PRECISION",
    "ALPHA_PRECISION_CURVE",
    "AUTHENTICITY",
    "BETA_RECALL",
    "BETA_RECALL_CURVE",
    "COMPUTE_KEYS",
    "INTERVAL_KEYS",
    "PROTOCOLS",
    "SAMPLE_KEYS",
    "SCALAR_KEYS",
    "THRESHOLDS",
]

#: Result keys (part of the public API).
ALPHA_PRECISION = "alpha_precision"
BETA_RECALL = "beta_recall"
AUTHENTICITY = "authenticity"
THRESHOLDS = "thresholds"
ALPHA_PRECISION_CURVE = "alpha_precision_curve"
BETA_RECALL_CURVE = "beta_recall_curve"
SCALAR_KEYS = (ALPHA_PRECISION, BETA_RECALL, AUTHENTICITY)
#: What ``compute()`` returns without intervals: the scalars and the curves.
COMPUTE_KEYS = (*SCALAR_KEYS, THRESHOLDS, ALPHA_PRECISION_CURVE, BETA_RECALL_CURVE)
#: Per-sample keys: the first four are per synthetic sample, the last four per real sample.
SAMPLE_KEYS = (
    "alpha_level",
    "authentic",
    "distance_to_real",
    "nearest_real_index",
    "covered",
    "beta_level",
    "distance_to_synthetic",
    "real_nearest_neighbor_distance",
)
#: Confidence-interval keys (``<scalar>_lower``, ``<scalar>_upper``).
INTERVAL_KEYS = tuple(f"{key}_{bound}" for key in SCALAR_KEYS for bound in ("lower", "upper"))

#: Neighbour-search algorithm name -> what it does (scikit-learn's names). Every one gives the same results.
ALGORITHMS = {
    "auto": "kd_tree on CPU at low dimension (see docs/performance.md), brute otherwise",
    "kd_tree": "a k-d tree (scipy.spatial.cKDTree) proposes candidates, re-checked exactly; CPU tensors only",
    "brute": "tiled float32 matrix products filter candidates, re-checked exactly; any device",
}

#: Protocol name -> (default k, default num_thresholds). "reference" (the authors' code) and "synthcity"
#: (synthcity 0.2.12's ``AlphaPrecision``, which tabular papers report) fix both.
PROTOCOLS = {"paper": (5, 101), "reference": (1, 30), "synthcity": (1, 30)}


def _is_int(value: object) -> bool:
    """An integer, numpy's included; bool is an int subclass but never a count."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_samples(x: object, name: str) -> Tensor:
    """A floating point 2-D tensor (any device, any float dtype)."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"Expected argument `{name}` to be a torch.Tensor of shape (num_samples, num_features), "
            f"but got {type(x).__name__}. Convert it with `torch.as_tensor({name})`."
        )
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(
            f"Expected argument `{name}` to be a floating point tensor, but got dtype {x.dtype}. "
            f"Convert it with `{name}.float()`."
        )
    if x.ndim != 2:
        raise ValueError(
            f"Expected argument `{name}` to be a 2-D tensor of shape (num_samples, num_features), "
            f"but got a {x.ndim}-D tensor of shape {tuple(x.shape)}. Flatten or embed the samples first."
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"Expected argument `{name}` to have at least 1 feature, but got shape {tuple(x.shape)}: "
            "distances between samples without features are all 0 and every score would be meaningless."
        )
    if x.is_meta:
        raise ValueError(
            f"Expected argument `{name}` to hold data, but got a tensor on the meta device (shape only). "
            f"Materialise it first, e.g. `{name}.to_empty(device='cpu')` and fill it."
        )
    return x


def _check_real_flag(real: object) -> bool:
    """The ``real`` flag of ``update``: a Python or numpy bool (a 0-d bool tensor counts too)."""
    if isinstance(real, (bool, np.bool_)):
        return bool(real)
    if isinstance(real, Tensor) and real.dtype == torch.bool and real.numel() == 1 and not real.is_meta:
        return bool(real)
    kind = type(real)
    got = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    raise TypeError(
        f"Expected argument `real` to be a bool (True for real samples, False for synthetic ones), but got {got}."
    )


def _check_finite(x: Tensor, name: str) -> None:
    """Every value finite; the message names the first bad rows."""
    # Fast path: one vectorised sum, which any NaN or inf turns into NaN or inf. An overflowing sum of
    # finite values only sends us to the exact per-row check below.
    if x.numel() == 0 or bool(torch.isfinite(x.sum())):
        return
    bad_rows = (~torch.isfinite(x)).any(dim=1)
    num_bad = int(bad_rows.sum())
    if num_bad:
        first = torch.nonzero(bad_rows).flatten()[:10].tolist()
        raise ValueError(
            f"Expected argument `{name}` to hold only finite values, but {num_bad} of its {x.shape[0]} "
            f"samples contain NaN or inf (row indices, first 10: {first})."
        )


def _check_algorithm(algorithm: object) -> str:
    """``algorithm`` if it names one of ``ALGORITHMS``, else a ValueError naming the choices."""
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"Expected argument `algorithm` to be one of {tuple(ALGORITHMS)}, but got {algorithm!r}.")
    return algorithm


def _check_protocol(protocol: object) -> str:
    if not isinstance(protocol, str) or protocol not in PROTOCOLS:
        raise ValueError(f"Expected argument `protocol` to be one of {tuple(PROTOCOLS)}, but got {protocol!r}.")
    return protocol


def _check_num_thresholds(num_thresholds: object) -> int | None:
    if num_thresholds is None:
        return None
    if not _is_int(num_thresholds) or num_thresholds < 2:  # type: ignore[operator]
        raise ValueError(f"Expected argument `num_thresholds` to be an integer >= 2, but got {num_thresholds!r}.")
    return int(num_thresholds)  # type: ignore[call-overload]


def _check_options(k: object, num_thresholds: object, protocol: object, chunk_size: object) -> tuple[int, int]:
    """Validate the options and resolve the protocol's defaults; returns (k, num_thresholds)."""
    protocol = _check_protocol(protocol)
    default_k, default_thresholds = PROTOCOLS[protocol]
    if k is not None and (not _is_int(k) or k < 1):  # type: ignore[operator]
        raise ValueError(f"Expected argument `k` to be a positive integer, but got {k!r}.")
    num_thresholds = _check_num_thresholds(num_thresholds)
    if chunk_size is not None and (not _is_int(chunk_size) or chunk_size < 1):  # type: ignore[operator]
        raise ValueError(f"Expected argument `chunk_size` to be a positive integer or None, but got {chunk_size!r}.")
    k = None if k is None else int(k)  # type: ignore[call-overload]
    if protocol != "paper":
        if k not in (None, default_k):
            raise ValueError(
                f"Expected argument `k` to be None or {default_k} with protocol={protocol!r} (the published code "
                f"fixes it), but got {k!r}. Use protocol='paper' for another k."
            )
        if num_thresholds not in (None, default_thresholds):
            raise ValueError(
                f"Expected argument `num_thresholds` to be None or {default_thresholds} with protocol={protocol!r} "
                f"(the published grid), but got {num_thresholds!r}. Use protocol='paper' for another grid."
            )
    return (k or default_k), (num_thresholds or default_thresholds)


def _check_center(center: object, num_features: int, device: torch.device) -> Tensor | None:
    """None, or a finite ``(d,)`` (or ``(1, d)``) real-valued center, returned as float64 on ``device``."""
    if center is None:
        return None
    if not isinstance(center, Tensor):
        try:
            center = torch.as_tensor(center)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"Expected argument `center` to be None or a tensor of shape ({num_features},), "
                f"but got {type(center).__name__}."
            ) from err
    if center.is_complex() or not (center.is_floating_point() or center.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"Expected argument `center` to be a real-valued tensor, but got dtype {center.dtype}.")
    if center.ndim == 2 and center.shape[0] == 1:
        center = center[0]
    if tuple(center.shape) != (num_features,):
        raise ValueError(
            f"Expected argument `center` to have shape ({num_features},) (one value per feature), "
            f"but got shape {tuple(center.shape)}."
        )
    if center.is_meta:
        raise ValueError("Expected argument `center` to hold data, but got a tensor on the meta device (shape only).")
    if not bool(torch.isfinite(center).all()):
        raise ValueError("Expected argument `center` to hold only finite values, but it contains NaN or inf.")
    return center.detach().to(device=device, dtype=torch.float64)


def _check_real(real: object, k: int) -> Tensor:
    real = _check_samples(real, "real")
    if real.shape[0] < k + 1:
        raise ValueError(
            f"Expected argument `real` to hold at least k + 1 = {k + 1} samples (each needs k = {k} other real "
            f"neighbours), but got {real.shape[0]}."
        )
    _check_finite(real, "real")
    return real.detach()  # inputs that require grad: the scores are not differentiable


def _check_synthetic(synthetic: object, num_features: int, device: torch.device) -> Tensor:
    synthetic = _check_samples(synthetic, "synthetic")
    if synthetic.shape[0] < 1:
        raise ValueError("Expected argument `synthetic` to hold at least 1 sample, but got 0.")
    if synthetic.shape[1] != num_features:
        raise ValueError(
            f"Expected `real` and `synthetic` to have the same number of features, but got {num_features} "
            f"for real and {synthetic.shape[1]} for synthetic (shape {tuple(synthetic.shape)})."
        )
    if synthetic.device != device:
        raise ValueError(
            f"Expected `real` and `synthetic` on the same device, but got {device} and {synthetic.device}."
        )
    _check_finite(synthetic, "synthetic")
    return synthetic.detach()


def _check_bootstrap_options(confidence_level: object, num_resamples: object, seed: object) -> None:
    """Validate the bootstrap's options (shared with the functional API and the metric)."""
    if (
        isinstance(confidence_level, bool)
        or not isinstance(confidence_level, numbers.Real)
        or not math.isfinite(float(confidence_level))
        or not 0.0 < float(confidence_level) < 1.0
    ):
        raise ValueError(
            f"Expected argument `confidence_level` to be a number strictly between 0 and 1 (e.g. 0.95), "
            f"but got {confidence_level!r}."
        )
    if not _is_int(num_resamples) or num_resamples < 2:  # type: ignore[operator]
        raise ValueError(f"Expected argument `num_resamples` to be an integer >= 2, but got {num_resamples!r}.")
    if not _is_int(seed) or not 0 <= seed < 2**63:  # type: ignore[operator]
        raise ValueError(f"Expected argument `seed` to be a non-negative integer below 2**63, but got {seed!r}.")


def _result_dtype(*tensors: Tensor) -> torch.dtype:
    """float64 in, float64 out; anything narrower (half, bfloat16, float32) reports in float32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32

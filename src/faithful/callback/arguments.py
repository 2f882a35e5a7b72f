"""Constructor checks of :class:`~faithful.callback.FaithfulnessMonitor`: fail at construction, naming the argument."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from faithful.callback.reference import REAL_SOURCES

__all__ = ["EMBEDDINGS", "check_arguments", "check_one_class_kwargs"]

#: Named embeddings (``embedding=...``); any ``torch.nn.Module`` is accepted as well.
EMBEDDINGS = {
    None: "identity: samples are flattened to vectors",
    "one-class": "faithful.OneClassEmbedding (Deep SVDD) fitted on the real reference when training starts",
}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_arguments(
    *,
    real: object,
    num_samples: object,
    max_real_samples: object,
    every_n_epochs: object,
    batch_size: object,
    seed: object,
    sample_fn: object,
    real_fn: object,
    prefix: object,
    log_curves: object,
    embedding: object,
    audit_every_n_evaluations: object,
    num_audit_samples: object,
    image_shape: object,
    to_image: object,
) -> tuple[int, ...] | None:
    """Raise ``ValueError``/``TypeError`` for a bad argument; returns ``image_shape`` as a tuple (or ``None``)."""
    if isinstance(real, str):
        if real not in REAL_SOURCES:
            raise ValueError(
                f"Expected argument `real` to be one of {tuple(REAL_SOURCES)}, a tensor or a DataLoader, "
                f"but got {real!r}."
            )
    elif isinstance(real, Tensor):
        if real.ndim == 0 or real.shape[0] == 0 or real.is_complex():
            raise ValueError(
                f"Expected argument `real` as a tensor to hold real samples along dim 0, but got shape "
                f"{tuple(real.shape)} and dtype {real.dtype}."
            )
    elif not isinstance(real, Iterable):
        raise ValueError(
            f"Expected argument `real` to be one of {tuple(REAL_SOURCES)}, a tensor or a DataLoader, "
            f"but got {type(real).__name__}."
        )
    for name, value in (("num_samples", num_samples), ("max_real_samples", max_real_samples)):
        if value is not None and (not _is_int(value) or value < 1):  # type: ignore[operator]
            raise ValueError(f"Expected argument `{name}` to be None or a positive integer, but got {value!r}.")
    for name, value in (("every_n_epochs", every_n_epochs), ("batch_size", batch_size)):
        if not _is_int(value) or value < 1:  # type: ignore[operator]
            raise ValueError(f"Expected argument `{name}` to be a positive integer, but got {value!r}.")
    for name, value in (("seed", seed), ("audit_every_n_evaluations", audit_every_n_evaluations)):
        if not _is_int(value) or value < 0:  # type: ignore[operator]
            raise ValueError(f"Expected argument `{name}` to be a non-negative integer, but got {value!r}.")
    if not _is_int(num_audit_samples) or num_audit_samples < 1:  # type: ignore[operator]
        raise ValueError(
            f"Expected argument `num_audit_samples` to be a positive integer, but got {num_audit_samples!r}."
        )
    for name, fn in (("sample_fn", sample_fn), ("real_fn", real_fn), ("to_image", to_image)):
        if fn is not None and not callable(fn):
            raise TypeError(f"Expected argument `{name}` to be None or callable, but got {type(fn).__name__}.")
    if not isinstance(prefix, str):
        raise ValueError(f"Expected argument `prefix` to be a string, but got {prefix!r}.")
    if not isinstance(log_curves, bool):
        raise ValueError(f"Expected argument `log_curves` to be a bool, but got {log_curves!r}.")
    if not (isinstance(embedding, nn.Module) or (isinstance(embedding, str) or embedding is None)):
        raise TypeError(
            f"Expected argument `embedding` to be one of {tuple(EMBEDDINGS)} or a torch.nn.Module, "
            f"but got {type(embedding).__name__}."
        )
    if not isinstance(embedding, nn.Module) and embedding not in EMBEDDINGS:
        raise ValueError(
            f"Expected argument `embedding` to be one of {tuple(EMBEDDINGS)} or a torch.nn.Module, "
            f"but got {embedding!r}."
        )
    if image_shape is None:
        return None
    if (
        isinstance(image_shape, (str, bytes))
        or not isinstance(image_shape, Sequence)
        or len(image_shape) not in (2, 3)
        or not all(_is_int(v) and v > 0 for v in image_shape)
        or (len(image_shape) == 3 and image_shape[0] not in (1, 3))
    ):
        raise ValueError(
            f"Expected argument `image_shape` to be None, (H, W) or (C, H, W) with C in (1, 3), "
            f"but got {image_shape!r}."
        )
    if to_image is not None:
        raise ValueError("Expected at most one of `image_shape` and `to_image`, but got both.")
    return tuple(image_shape)


def check_one_class_kwargs(
    embedding: object, embedding_kwargs: Mapping[str, Any] | None, fit_kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Check ``embedding_kwargs``/``fit_kwargs`` (one-class only) and return ``embedding_kwargs`` as a dict."""
    for name, kwargs in (("embedding_kwargs", embedding_kwargs), ("fit_kwargs", fit_kwargs)):
        if kwargs is None:
            continue
        if not isinstance(kwargs, Mapping):
            raise ValueError(f"Expected argument `{name}` to be None or a dict, but got {type(kwargs).__name__}.")
        if embedding != "one-class" and kwargs:
            raise ValueError(
                f"Argument `{name}` is only used with `embedding='one-class'`, but got embedding={embedding!r}."
            )
    if embedding != "one-class":
        return {}
    from faithful.embedding import OneClassEmbedding

    embedding_kwargs = dict(embedding_kwargs or {})
    allowed = [p for p in inspect.signature(OneClassEmbedding).parameters if p != "in_features"]
    unknown = sorted(set(embedding_kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"Expected the keys of `embedding_kwargs` to be among {allowed}, but got {unknown}.")
    allowed_fit = [p for p in inspect.signature(OneClassEmbedding.fit).parameters if p not in ("self", "real")]
    unknown = sorted(set(fit_kwargs or {}) - set(allowed_fit))
    if unknown:
        raise ValueError(f"Expected the keys of `fit_kwargs` to be among {allowed_fit}, but got {unknown}.")
    # Building one now checks the values (sizes, objective, nu...) at construction rather than at fit start.
    OneClassEmbedding(1, **embedding_kwargs)
    return embedding_kwargs

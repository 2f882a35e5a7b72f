r"""Post-hoc auditing (Alaa et al., ICML 2022, section 4): keep the synthetic samples that are typical and new.

Every synthetic sample :math:`g_j` has an α-level :math:`a_j` (the smallest α whose real α-support holds it)
and an authenticity flag. The paper's audit keeps the samples with :math:`a_j \le \alpha^*` (inside the
α-support at level :math:`\alpha^*`: high fidelity) that are authentic (not a near-copy of a training
sample) and drops the rest. :func:`audit` does that on the per-sample output of
:func:`faithful.functional.alpha_precision_beta_recall_authenticity` (``sample_level=True``) or of the
metric's ``sample_scores()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["AuditResult", "audit"]


class AuditResult(NamedTuple):
    """Which synthetic samples the audit keeps, and how many fell at each hurdle."""

    keep: Tensor  #: ``(m,)`` bool: kept synthetic samples
    indices: Tensor  #: ``(num_kept,)`` int64 indices of the kept samples, ascending
    num_samples: int  #: m, the synthetic samples audited
    num_kept: int  #: kept samples
    num_inside: int  #: samples with ``alpha_level <= alpha`` (inside the α-support)
    num_authentic: int | None  #: authentic samples, whatever their α-level (None: no ``authentic`` given)
    alpha: float  #: the level α* used
    require_authentic: bool  #: whether non-authentic samples were dropped

    @property
    def summary(self) -> str:
        """One line: kept / total, and how many were inside the α-support and authentic."""
        rule = f"alpha_level <= {self.alpha:g}" + (" and authentic" if self.require_authentic else "")
        authentic = "" if self.num_authentic is None else f", {self.num_authentic} authentic"
        return (
            f"kept {self.num_kept} of {self.num_samples} synthetic samples ({rule}): "
            f"{self.num_inside} inside the α-support at α = {self.alpha:g}{authentic}"
        )


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (0.0 <= alpha <= 1.0):
        raise ValueError(f"Expected argument `alpha` to be a number in [0, 1], but got {alpha!r}.")
    return float(alpha)


def _per_sample(sample_scores: object, require_authentic: bool) -> tuple[Tensor, Tensor | None]:
    if not isinstance(sample_scores, Mapping):
        raise TypeError(
            "Expected argument `sample_scores` to be the dict returned by "
            "`alpha_precision_beta_recall_authenticity(..., sample_level=True)` or by the metric's "
            f"`sample_scores()`, but got {type(sample_scores).__name__}."
        )
    needed = ("alpha_level", "authentic") if require_authentic else ("alpha_level",)
    missing = [key for key in needed if key not in sample_scores]
    if missing:
        hint = (
            " A result of the functional API without `sample_level=True` has no per-sample keys."
            if "alpha_precision" in sample_scores
            else ""
        )
        raise ValueError(
            f"Expected argument `sample_scores` to hold the per-sample keys {needed}, but it lacks {missing} "
            f"(got keys {sorted(map(str, sample_scores))}).{hint}"
        )
    alpha_level = sample_scores["alpha_level"]
    if not isinstance(alpha_level, Tensor) or alpha_level.ndim != 1 or not alpha_level.is_floating_point():
        got = (
            f"{alpha_level.dtype} tensor of shape {tuple(alpha_level.shape)}"
            if isinstance(alpha_level, Tensor)
            else type(alpha_level).__name__
        )
        raise ValueError(f"Expected `sample_scores['alpha_level']` to be a 1-D floating point tensor, but got {got}.")
    if bool(torch.isnan(alpha_level).any()):
        raise ValueError(
            "Expected `sample_scores['alpha_level']` to hold levels in [0, 1] or inf, but it contains NaN."
        )
    if "authentic" not in sample_scores:
        return alpha_level, None
    authentic = sample_scores["authentic"]
    if not isinstance(authentic, Tensor) or authentic.dtype != torch.bool or authentic.shape != alpha_level.shape:
        got = (
            f"{authentic.dtype} tensor of shape {tuple(authentic.shape)}"
            if isinstance(authentic, Tensor)
            else type(authentic).__name__
        )
        raise ValueError(
            f"Expected `sample_scores['authentic']` to be a bool tensor of shape {tuple(alpha_level.shape)} "
            f"(one flag per synthetic sample, like `alpha_level`), but got {got}."
        )
    return alpha_level, authentic


def audit(sample_scores: Mapping[str, Any], *, alpha: float = 1.0, require_authentic: bool = True) -> AuditResult:
    r"""Keep the synthetic samples inside the real α-support at level ``alpha`` and (by default) authentic.

    Sample :math:`j` is kept when :math:`a_j \le \alpha` and, with ``require_authentic``, it is authentic.
    A sample beyond every real sample (``alpha_level = inf``) is never kept; at ``alpha = 1`` the audit
    keeps every authentic sample within the farthest real sample's distance from :math:`c_r`.

    Args:
        sample_scores: per-sample output with ``alpha_level`` ``(m,)`` and ``authentic`` ``(m,)`` bool (the
            other keys are ignored): ``alpha_precision_beta_recall_authenticity(..., sample_level=True)``
            or ``metric.sample_scores()``.
        alpha: the level α* in [0, 1]; smaller keeps only the more typical samples.
        require_authentic: drop the non-authentic samples too (the paper's audit). ``False`` filters on
            fidelity alone (then ``authentic`` is not needed, only counted when present).

    Returns:
        :class:`AuditResult` with the ``keep`` mask, the kept ``indices`` (index ``synthetic[result.keep]``
        or ``synthetic[result.indices]``), the counts and a one-line ``summary``.

    Raises:
        TypeError: if ``sample_scores`` is not a mapping.
        ValueError: if ``alpha`` is outside [0, 1], ``require_authentic`` is not a bool, or a needed key is
            missing or malformed.

    Example:
        >>> import torch
        >>> from faithful.audit import audit
        >>> from faithful.functional import alpha_precision_beta_recall_authenticity
        >>> gen = torch.Generator().manual_seed(0)
        >>> real = torch.randn(500, 4, generator=gen)
        >>> synthetic = torch.cat([real[:50] + 1e-3, torch.randn(150, 4, generator=gen)])  # 50 near-copies
        >>> scores = alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True)
        >>> result = audit(scores, alpha=0.9)
        >>> bool(result.keep[:50].any()), result.num_kept <= 150
        (False, True)
        >>> cleaned = synthetic[result.keep]
    """
    alpha = _check_alpha(alpha)
    if not isinstance(require_authentic, bool):
        raise ValueError(f"Expected argument `require_authentic` to be a bool, but got {require_authentic!r}.")
    alpha_level, authentic = _per_sample(sample_scores, require_authentic)
    # alpha_level may be float32: compare in its dtype would round α*; compare in float64 instead.
    inside = alpha_level.to(torch.float64) <= alpha
    keep = inside & authentic if require_authentic and authentic is not None else inside
    return AuditResult(
        keep=keep,
        indices=torch.nonzero(keep).flatten(),
        num_samples=keep.numel(),
        num_kept=int(keep.sum()),
        num_inside=int(inside.sum()),
        num_authentic=None if authentic is None else int(authentic.sum()),
        alpha=alpha,
        require_authentic=require_authentic,
    )

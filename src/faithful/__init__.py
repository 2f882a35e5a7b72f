"""lightning-faithful: α-precision, β-recall and authenticity for generative models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faithful.audit import AuditResult, audit
from faithful.functional import alpha_precision_beta_recall_authenticity

if TYPE_CHECKING:
    from faithful.callback import FaithfulnessMonitor
    from faithful.embedding import OneClassEmbedding
    from faithful.metric import AlphaPrecisionBetaRecallAuthenticity

__version__ = "0.1.0"

__all__ = [
    "AlphaPrecisionBetaRecallAuthenticity",
    "AuditResult",
    "FaithfulnessMonitor",
    "OneClassEmbedding",
    "__version__",
    "alpha_precision_beta_recall_authenticity",
    "audit",
]

# Loaded on first use so that `import faithful` (and every `faithful` command) stays fast: the metric
# imports torchmetrics, the callback Lightning (seconds each).
_LAZY = {
    "AlphaPrecisionBetaRecallAuthenticity": "faithful.metric",
    "FaithfulnessMonitor": "faithful.callback",
    "OneClassEmbedding": "faithful.embedding",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'faithful' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

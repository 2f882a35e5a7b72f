"""lightning-faithful: α-precision, β-recall and authenticity for generative models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faithful.audit import AuditResult, audit
from faithful.embedding import OneClassEmbedding
from faithful.functional import alpha_precision_beta_recall_authenticity
from faithful.metric import AlphaPrecisionBetaRecallAuthenticity

if TYPE_CHECKING:
    from faithful.callback import FaithfulnessMonitor

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

# Names whose modules import Lightning (seconds): loaded on first use so `import faithful` stays light.
_LAZY = {"FaithfulnessMonitor": "faithful.callback"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'faithful' has no attribute {name!r}")

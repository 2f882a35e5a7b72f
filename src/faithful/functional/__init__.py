"""Pure tensor functions: no state, no I/O (and no lightning); only DEBUG log lines (which search ran)."""

from faithful.functional._checks import (
    ALPHA_PRECISION,
    ALPHA_PRECISION_CURVE,
    AUTHENTICITY,
    BETA_RECALL,
    BETA_RECALL_CURVE,
    INTERVAL_KEYS,
    SAMPLE_KEYS,
    SCALAR_KEYS,
    THRESHOLDS,
)
from faithful.functional.apra import alpha_precision_beta_recall_authenticity
from faithful.functional.bootstrap import bootstrap_confidence_intervals

__all__ = [
    "ALPHA_PRECISION",
    "ALPHA_PRECISION_CURVE",
    "AUTHENTICITY",
    "BETA_RECALL",
    "BETA_RECALL_CURVE",
    "INTERVAL_KEYS",
    "SAMPLE_KEYS",
    "SCALAR_KEYS",
    "THRESHOLDS",
    "alpha_precision_beta_recall_authenticity",
    "bootstrap_confidence_intervals",
]

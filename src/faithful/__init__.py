"""lightning-faithful: α-precision, β-recall and authenticity for generative models."""

from faithful.functional import alpha_precision_beta_recall_authenticity

__version__ = "0.1.0"

__all__ = ["__version__", "alpha_precision_beta_recall_authenticity"]

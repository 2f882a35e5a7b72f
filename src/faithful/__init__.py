"""lightning-faithful: α-precision, β-recall and authenticity for generative models."""

from faithful.functional import alpha_precision_beta_recall_authenticity
from faithful.metric import AlphaPrecisionBetaRecallAuthenticity

__version__ = "0.1.0"

__all__ = ["AlphaPrecisionBetaRecallAuthenticity", "__version__", "alpha_precision_beta_recall_authenticity"]

"""The main job of ``faithful``: a small GAN on scikit-learn's 8x8 digits, watched by the metrics.

Run it with ``faithful demo`` or ``python -m faithful.demo`` (``--help`` lists every option). The pieces
are reusable: :class:`DigitsDataModule`, :class:`DigitsGAN` (whose ``sample(n)`` the monitor calls) and
:class:`FaithfulnessTable` (prints the per-epoch table and logs the score the checkpoint is chosen by).
"""

from faithful.demo.app import DEFAULT_CONFIG, RunSummary, main, run
from faithful.demo.data import DigitsDataModule, load_digits_tensors
from faithful.demo.gan import DigitsGAN
from faithful.demo.table import FaithfulnessTable

__all__ = [
    "DEFAULT_CONFIG",
    "DigitsDataModule",
    "DigitsGAN",
    "FaithfulnessTable",
    "RunSummary",
    "load_digits_tensors",
    "main",
    "run",
]

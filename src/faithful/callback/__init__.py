"""``FaithfulnessMonitor``: α-precision, β-recall and authenticity of a generator while it trains.

The :class:`FaithfulnessMonitor` callback (hooks and logging) lives in :mod:`faithful.callback.monitor`; each of its
other jobs has its own module: :mod:`~faithful.callback.arguments` (constructor checks),
:mod:`~faithful.callback.reference` (reading the real reference, bounded), :mod:`~faithful.callback.sampling`
(seeded generation), :mod:`~faithful.callback.features` (embedding) and :mod:`~faithful.callback.tensorboard`
(curves, histograms and the audit views).
"""

from faithful.callback.arguments import EMBEDDINGS
from faithful.callback.monitor import FaithfulnessMonitor
from faithful.callback.reference import REAL_SOURCES, default_real_fn

__all__ = ["EMBEDDINGS", "REAL_SOURCES", "FaithfulnessMonitor", "default_real_fn"]

"""Checks of option values shared by the functional API, the metric and the CLI."""

from __future__ import annotations

__all__ = ["ALGORITHMS", "_check_algorithm"]

#: Neighbour-search algorithm name -> what it does (scikit-learn's names). Every one gives the same results.
ALGORITHMS = {
    "auto": "kd_tree on CPU at low dimension (see docs/performance.md), brute otherwise",
    "kd_tree": "a k-d tree (scipy.spatial.cKDTree) proposes candidates, re-checked exactly; CPU tensors only",
    "brute": "tiled float32 matrix products filter candidates, re-checked exactly; any device",
}


def _check_algorithm(algorithm: object) -> str:
    """``algorithm`` if it names one of ``ALGORITHMS``, else a ValueError naming the choices."""
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"Expected argument `algorithm` to be one of {tuple(ALGORITHMS)}, but got {algorithm!r}.")
    return algorithm

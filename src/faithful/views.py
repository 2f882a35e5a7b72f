r"""Sample-level evidence: which generated samples are copies, which are atypical, which real samples are missed.

Three views of the per-sample output (``sample_level=True`` or the metric's ``sample_scores()``), shared by
:class:`~faithful.callback.FaithfulnessMonitor` (TensorBoard) and ``faithful evaluate --report`` (files):

- **copies**: the generated samples :math:`g_j` with the smallest distance to their nearest real sample
  :math:`r_{i^*(j)}` *relative to that real sample's own nearest-neighbour distance*,
  :math:`\|g_j - r_{i^*(j)}\| / \mathrm{NND}_1(r_{i^*(j)})`. Authenticity counts :math:`g_j` as a copy when this
  ratio is at most 1, so the first rows are the least authentic samples; each is shown beside its nearest real one.
- **atypical**: the generated samples with the highest α-level (farthest outside the real support; ``inf``
  beyond every real sample comes first).
- **missed**: the real samples that no generated sample covers, farthest from any generated sample first
  (the modes the generator does not produce).

Ties are broken by index, so the views are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["VIEWS", "View", "markdown_table", "relative_distance", "select", "table", "views"]

#: View names, in the order they are logged.
VIEWS = ("copies", "atypical", "missed")


def relative_distance(scores: Mapping[str, Tensor]) -> Tensor:
    """``distance_to_real / NND_1(nearest real)`` per generated sample (``<= 1``: not authentic).

    A sample on a real sample whose twin is a duplicate (NND_1 = 0) gets 0 when it sits on it, ``inf`` otherwise.
    """
    distance = scores["distance_to_real"].double()
    own = scores["real_nearest_neighbor_distance"].double()[scores["nearest_real_index"].long()]
    ratio = distance / own
    return torch.where(distance == 0, torch.zeros_like(ratio), ratio)


def _order(values: Tensor, descending: bool) -> Tensor:
    # A stable sort on the CPU: ties keep index order, so the views do not depend on the device or the sort kernel.
    return torch.sort(values.detach().cpu(), descending=descending, stable=True).indices


def select(scores: Mapping[str, Tensor], num: int) -> dict[str, Tensor]:
    """Indices of the ``num`` rows of each view (synthetic indices for copies and atypical, real ones for missed).

    Example:
        >>> import torch
        >>> from faithful.functional import alpha_precision_beta_recall_authenticity
        >>> from faithful.views import select
        >>> real = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
        >>> synthetic = torch.cat([real[:2] + 1e-3, 5 + torch.randn(50, 3)])
        >>> picked = select(alpha_precision_beta_recall_authenticity(real, synthetic, sample_level=True), 2)
        >>> sorted(picked["copies"].tolist())
        [0, 1]
    """
    ratio = relative_distance(scores)
    copies = _order(ratio, descending=False)[:num]
    alpha = scores["alpha_level"].double().cpu()
    atypical = _order(alpha, descending=True)[:num]
    uncovered = torch.nonzero(~scores["covered"].cpu()).flatten()
    far = scores["distance_to_synthetic"].double().cpu()[uncovered]
    missed = uncovered[_order(far, descending=True)][:num]
    return {"copies": copies, "atypical": atypical, "missed": missed}


@dataclass
class View:
    """One view: its rows (indices, labels, numbers) and the raw samples to show."""

    name: str  #: ``"copies"``, ``"atypical"`` or ``"missed"``
    title: str  #: one line saying what the rows are
    indices: list[int]  #: synthetic indices (copies, atypical) or real indices (missed)
    labels: list[str]  #: one short label per row
    columns: dict[str, list[float | int]]  #: per-row numbers (distance, α-level, nearest real index...)
    samples: Tensor | None = None  #: ``(N, ...)`` raw samples of the rows (generated, or real for missed)
    neighbours: Tensor | None = None  #: ``(N, ...)`` raw nearest real samples (copies only)
    neighbour_indices: list[int] | None = None  #: their indices in the real reference (copies only)


def _fmt(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3g}"


def views(scores: Mapping[str, Tensor], num: int) -> list[View]:
    """The three views (without samples: the caller fills ``samples``/``neighbours`` from the returned indices)."""
    picked = select(scores, num)
    ratio = relative_distance(scores)
    distance = scores["distance_to_real"].double().cpu()
    alpha = scores["alpha_level"].double().cpu()
    nearest = scores["nearest_real_index"].long().cpu()
    to_synthetic = scores["distance_to_synthetic"].double().cpu()
    copies = picked["copies"].tolist()
    atypical = picked["atypical"].tolist()
    missed = picked["missed"].tolist()
    return [
        View(
            "copies",
            "least authentic generated samples (distance to the nearest real sample / that sample's own "
            "nearest-neighbour distance, smallest first; <= 1 is a copy), each beside its nearest real sample",
            copies,
            [
                f"gen #{j}  ratio {_fmt(float(ratio[j]))}  d {_fmt(float(distance[j]))}  | real #{int(nearest[j])}"
                for j in copies
            ],
            {
                "relative_distance": [float(ratio[j]) for j in copies],
                "distance_to_real": [float(distance[j]) for j in copies],
                "alpha_level": [float(alpha[j]) for j in copies],
                "nearest_real_index": [int(nearest[j]) for j in copies],
            },
            neighbour_indices=[int(nearest[j]) for j in copies],
        ),
        View(
            "atypical",
            "generated samples with the highest α-level (farthest outside the real support; inf: beyond every "
            "real sample)",
            atypical,
            [f"gen #{j}  α-level {_fmt(float(alpha[j]))}" for j in atypical],
            {
                "alpha_level": [float(alpha[j]) for j in atypical],
                "distance_to_real": [float(distance[j]) for j in atypical],
                "nearest_real_index": [int(nearest[j]) for j in atypical],
            },
        ),
        View(
            "missed",
            "real samples no generated sample covers, farthest from any generated sample first",
            missed,
            [f"real #{i}  to nearest gen {_fmt(float(to_synthetic[i]))}" for i in missed],
            {"distance_to_synthetic": [float(to_synthetic[i]) for i in missed]},
        ),
    ]


# ------------------------------------------------------------------------------------------------- tables


def table(
    view: View, feature_names: Sequence[str] | None = None, max_features: int | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a view as text: index, the view's numbers, and feature values (beside for copies)."""
    first = "real_index" if view.name == "missed" else "synthetic_index"
    header = ["rank", first, *view.columns]
    rows = [
        [str(rank), str(index), *(_cell(values[rank]) for values in view.columns.values())]
        for rank, index in enumerate(view.indices)
    ]
    for prefix, samples in (("", view.samples), ("real:", view.neighbours)):
        if samples is None or not len(view.indices):
            continue
        flat = samples.reshape(samples.shape[0], -1)
        count = flat.shape[1] if max_features is None else min(max_features, flat.shape[1])
        names = list(feature_names) if feature_names is not None else [f"x{t}" for t in range(flat.shape[1])]
        lead = prefix or ("real:" if view.name == "missed" else "generated:")
        header += [f"{lead}{names[t]}" for t in range(count)]
        if count < flat.shape[1]:
            header.append(f"{lead}...")
        for rank in range(len(view.indices)):
            rows[rank] += [_cell(float(v)) for v in flat[rank, :count].tolist()]
            if count < flat.shape[1]:
                rows[rank].append("...")
    return header, rows


def _cell(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return "inf" if math.isinf(value) else f"{value:.6g}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown (GitHub / TensorBoard) table."""
    escape = [cell.replace("|", "\\|") for cell in header]
    lines = ["| " + " | ".join(escape) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)

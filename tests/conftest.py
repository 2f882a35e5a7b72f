from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "alaa2022_code_vectors.json"
# A copy travels with the repository so the suite also runs where ../shared is absent.
REFERENCE_COPY = Path(__file__).resolve().parent / "data" / "alaa2022_code_vectors.json"
SYNTHCITY = Path(__file__).resolve().parent / "data" / "synthcity_0212_vectors.json"


@pytest.fixture(scope="session")
def reference_vectors() -> dict:
    path = REFERENCE if REFERENCE.exists() else REFERENCE_COPY
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def synthcity_vectors() -> dict:
    """Outputs of synthcity 0.2.12 ``AlphaPrecision.metrics`` (computed by synthcity itself)."""
    path = REFERENCE.with_name(SYNTHCITY.name) if REFERENCE.with_name(SYNTHCITY.name).exists() else SYNTHCITY
    return json.loads(path.read_text())

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "alaa2022_code_vectors.json"
# A copy travels with the repository so the suite also runs where ../shared is absent.
REFERENCE_COPY = Path(__file__).resolve().parent / "data" / "alaa2022_code_vectors.json"


@pytest.fixture(scope="session")
def reference_vectors() -> dict:
    path = REFERENCE if REFERENCE.exists() else REFERENCE_COPY
    return json.loads(path.read_text())

#!/usr/bin/env bash
# Sets up a virtual environment (CPU torch first) and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FAITHFUL_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e .
# Until the training demo lands: a short evaluation on bundled data.
exec "$VENV/bin/python" -c "
import torch
from sklearn.datasets import load_digits
from faithful.functional import alpha_precision_beta_recall_authenticity as apra
x = torch.tensor(load_digits().data, dtype=torch.float32)
real, held_out = x[::2], x[1::2]
for name, synthetic in [('held-out digits', held_out), ('noisy copies of training digits', real + 0.1 * torch.randn_like(real))]:
    r = apra(real, synthetic)
    print(f'{name:35s} IPa={r[\"alpha_precision\"]:.3f} IRb={r[\"beta_recall\"]:.3f} A={r[\"authenticity\"]:.3f}')
"

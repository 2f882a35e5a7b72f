#!/usr/bin/env bash
# Sets up a virtual environment (CPU torch first) and runs the main job: a small GAN trained on
# scikit-learn's 8x8 digits with FaithfulnessMonitor attached (per-epoch IPα / IRβ / authenticity table,
# best checkpoint, TensorBoard curves). Arguments go to the demo, e.g.
#   bash scripts/demo.sh --trainer.max_epochs=50
#   bash scripts/demo.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# `python -m faithful.demo` is the same program without the `faithful` command in between.
exec "$VENV/bin/faithful" demo "$@"

#!/usr/bin/env bash
# Sets up a virtual environment (CPU torch first, so no CUDA build is pulled) and runs the test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh dev
"$VENV/bin/python" -m ruff check src tests benchmarks examples
"$VENV/bin/python" -m ruff format --check src tests benchmarks examples
"$VENV/bin/python" -m mypy src
exec "$VENV/bin/python" -m pytest "$@"

#!/usr/bin/env bash
# Sets up a virtual environment (CPU torch first, so no CUDA build is pulled) and runs the test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FAITHFUL_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[dev]"
"$VENV/bin/python" -m ruff check src tests benchmarks examples
"$VENV/bin/python" -m ruff format --check src tests benchmarks examples
"$VENV/bin/python" -m mypy src
exec "$VENV/bin/python" -m pytest "$@"

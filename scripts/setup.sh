#!/usr/bin/env bash
# Shared by demo.sh and test.sh: create the virtual environment and install the package into it, with
# torch==2.13.0 installed first so that the package's own `torch>=2.1` range is already satisfied and pulls
# nothing more. Which build of 2.13.0 pip takes depends on the machine's pip configuration: on this project's
# development machines a CPU wheel on local disk; on a stock machine the default index serves the CUDA build.
# FAITHFUL_TORCH_INDEX_URL, when set, is the index torch is installed from (e.g. PyTorch's CPU wheel index).
# Usage: source scripts/setup.sh [extras]
VENV="${FAITHFUL_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if [ -n "${FAITHFUL_TORCH_INDEX_URL:-}" ]; then
  "$VENV/bin/python" -m pip install -q --index-url "$FAITHFUL_TORCH_INDEX_URL" "torch==2.13.0"
else
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
fi
"$VENV/bin/python" -m pip install -q -e ".${1:+[$1]}"

#!/usr/bin/env bash
# Shared by demo.sh and test.sh: create the virtual environment and install the package into it, CPU torch
# first so that no multi-GB CUDA build is pulled on a CPU-only machine. Usage: source scripts/setup.sh [extras]
VENV="${FAITHFUL_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".${1:+[$1]}"

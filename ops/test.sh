#!/usr/bin/env bash
# The test command: set up (fast when cached), lint, type-check, then the whole pytest suite on a
# real local Kafka broker that the session fixture starts and stops.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash ops/setup.sh
PY=.venv/bin/python
echo "[test] ruff"
$PY -m ruff check .
$PY -m ruff format --check .
echo "[test] mypy"
$PY -m mypy
echo "[test] pytest"
$PY -m pytest "$@"

#!/usr/bin/env bash
# The test command: set up (fast when cached), lint, type-check, then the whole pytest suite on a
# real local Kafka broker that the session fixture starts and stops.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash ops/setup.sh
# promtool validates the Prometheus config and alert rules (Debian's prometheus package).
if ! command -v promtool >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[test] installing promtool (apt-get install prometheus)"
  apt-get install -y -q --no-install-recommends prometheus >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
fi
PY=.venv/bin/python
echo "[test] ruff"
$PY -m ruff check .
$PY -m ruff format --check .
echo "[test] mypy"
$PY -m mypy
echo "[test] pytest"
$PY -m pytest "$@"

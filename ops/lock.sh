#!/usr/bin/env bash
# Regenerate requirements.lock, requirements-gpu.lock and requirements-dev.lock from
# pyproject.toml with pip's own resolver (nothing is installed; only package metadata is read).
#
#   bash ops/lock.sh            # keep every version already pinned, add/remove what changed
#   bash ops/lock.sh --upgrade  # re-resolve everything to the newest allowed versions
#
# ops/setup.sh keys its cached dependency venv by these files, so the next setup installs anew.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A throwaway venv with a current pip (the --report format and PEP 658 metadata need pip 23+).
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade "pip>=24"
"$tmp/venv/bin/python" "$ROOT/ops/lockgen.py" "$@"

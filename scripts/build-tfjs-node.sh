#!/usr/bin/env bash
# Build the @tensorflow/tfjs-node native binding against the libtensorflow that PyPI's TensorFlow wheel ships.
#
# Why: tfjs-node's own install script downloads libtensorflow from Google storage, which fails offline and is
# denied in package.json (allowScripts). The `tensorflow-cpu` 2.21.0 wheel in .venv ships libtensorflow_cc.so.2
# (which exports the TF C and eager C APIs the binding uses), libtensorflow_framework.so.2 and the whole include/
# tree, so the binding compiles against it in about 20 s.
#
# Idempotent: does nothing when the built binding already loads. Run by `npm run setup` and the CI path.
#
# Usage: scripts/build-tfjs-node.sh [--force]
#   THAW_TF_PACKAGE_DIR  the wheel's tensorflow/ folder (default: .venv/lib/python3.*/site-packages/tensorflow)
#   THAW_TFJS_NODE_PKG   which binding package to build (default: @tensorflow/tfjs-node)
#   THAW_NODE_ROOT       the project whose node_modules holds that package (default: thaw's own folder; `thaw setup`
#                        in a project that installed thaw sets it to that project)
#
# GPU route (no GPU on this host, so untested here): on a CUDA host, `pip install tensorflow==2.21.0` (the GPU wheel,
# with its nvidia-* CUDA/cuDNN wheels), `npm install --ignore-scripts @tensorflow/tfjs-node-gpu@4.22.0`, then
#   THAW_TF_PACKAGE_DIR=.venv/lib/python3.11/site-packages/tensorflow \
#   THAW_TFJS_NODE_PKG=@tensorflow/tfjs-node-gpu scripts/build-tfjs-node.sh
# The GPU wheel's libtensorflow_cc.so.2 finds CUDA through the nvidia-* wheels' libraries: put their lib/ folders
# (site-packages/nvidia/*/lib) on LD_LIBRARY_PATH for the worker. thaw then picks `tensorflow-gpu` automatically
# (or set THAW_BACKEND=tensorflow-gpu / `backend: tensorflow-gpu` in the pipeline).
set -euo pipefail

cd "$(dirname "$0")/.."
THAW_ROOT=$PWD
ROOT=${THAW_NODE_ROOT:-$THAW_ROOT}
PKG_NAME=${THAW_TFJS_NODE_PKG:-@tensorflow/tfjs-node}
PKG="$ROOT/node_modules/$PKG_NAME"
FORCE=${1:-}

log() { echo "[build-tfjs-node] $*"; }

if [[ ! -d "$PKG" ]]; then
  log "$PKG_NAME is not installed (run npm install first)"; exit 1
fi

binding_loads() {
  (cd "$ROOT" && node -e "require('$PKG_NAME')" >/dev/null 2>&1)
}

if [[ "$FORCE" != "--force" ]] && binding_loads; then
  log "$PKG_NAME binding already loads; nothing to do"; exit 0
fi

TF_DIR=${THAW_TF_PACKAGE_DIR:-}
if [[ -z "$TF_DIR" ]]; then
  for candidate in "$THAW_ROOT"/.venv/lib/python3.*/site-packages/tensorflow; do
    [[ -f "$candidate/libtensorflow_cc.so.2" ]] && TF_DIR=$candidate
  done
fi
if [[ -z "$TF_DIR" || ! -f "$TF_DIR/libtensorflow_cc.so.2" ]]; then
  log "no TensorFlow wheel with libtensorflow_cc.so.2 found: run \`thaw setup\`, or point THAW_TF_PACKAGE_DIR at a tensorflow/ folder"
  exit 1
fi
log "using libtensorflow from $TF_DIR"

DEPS="$PKG/deps"
mkdir -p "$DEPS/lib"

# Hard links when on the same filesystem (the C++ library is ~800 MB), a copy otherwise.
place() {
  local src=$1 dst=$2
  if [[ -f "$dst" && ! -L "$dst" && "$(stat -c %i "$src")" == "$(stat -c %i "$dst")" ]]; then return; fi
  rm -f "$dst"
  ln "$src" "$dst" 2>/dev/null || cp "$src" "$dst"
}
place "$TF_DIR/libtensorflow_cc.so.2" "$DEPS/lib/libtensorflow_cc.so.2"
place "$TF_DIR/libtensorflow_framework.so.2" "$DEPS/lib/libtensorflow_framework.so.2"
# The binding links -ltensorflow -ltensorflow_framework; at run time the loader follows the sonames
# (libtensorflow_cc.so.2, libtensorflow_framework.so.2) through the binding's rpath $ORIGIN/../../deps/lib.
ln -sfn libtensorflow_cc.so.2 "$DEPS/lib/libtensorflow.so.2"
ln -sfn libtensorflow_cc.so.2 "$DEPS/lib/libtensorflow.so"
ln -sfn libtensorflow_framework.so.2 "$DEPS/lib/libtensorflow_framework.so"

rm -rf "$DEPS/include"
ln -sfn "$TF_DIR/include" "$DEPS/include" 2>/dev/null || cp -r "$TF_DIR/include" "$DEPS/include"

log "compiling the binding (about 20 s)"
PRE_GYP=$(cd "$PKG" && node -p "require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp')")
(cd "$PKG" && "$PRE_GYP" install --build-from-source --nodedir=/usr >/tmp/thaw-build-tfjs-node.log 2>&1) || {
  tail -n 40 /tmp/thaw-build-tfjs-node.log; log "build failed (full log: /tmp/thaw-build-tfjs-node.log)"; exit 1;
}

if binding_loads; then
  log "$PKG_NAME binding built and loads"
else
  (cd "$ROOT" && node -e "require('$PKG_NAME')") || true
  log "binding built but does not load"; exit 1
fi

#!/usr/bin/env bash
# The real S3-compatible server of the tests: SeaweedFS's `weed`, built from the Go module proxy (no other download)
# at the pinned version below. Tests need it, the product does not. Cached under
# ${THAW_CACHE_DIR:-~/.cache/thaw}/seaweedfs-<version>/weed (a few minutes and ~2 GB of modules the first time, then
# nothing); <repo>/.seaweedfs links to that folder. Idempotent. Run by .ci/run after `npm run setup`.
#
# Usage: scripts/build-seaweedfs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v0.0.0-20261109003541-7506e5f91cd6 # github.com/seaweedfs/seaweedfs as the module proxy serves it (4.53)
log() { echo "[setup] $*"; }
CACHE_DIR=${THAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thaw}
dest="$CACHE_DIR/seaweedfs-$VERSION"

if [[ -x "$dest/weed" ]] && "$dest/weed" version > /dev/null 2>&1; then
  log "reusing cached $dest/weed"
else
  command -v go > /dev/null || { echo "[setup] Go is needed to build SeaweedFS for the S3 tests (https://go.dev/dl)" >&2; exit 1; }
  log "building SeaweedFS $VERSION into $dest (a few minutes the first time)"
  # Its go.mod has replace directives, so it builds as the main module: from its source, not with `go install`.
  src=$(go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$src" ]] || { echo "[setup] could not download github.com/seaweedfs/seaweedfs@$VERSION from the Go module proxy" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  mkdir -p "$dest"
  (cd "$work/src" && GOFLAGS=-mod=mod go build -o "$dest/weed.partial" ./weed)
  mv "$dest/weed.partial" "$dest/weed"
fi
ln -sfn "$dest" .seaweedfs

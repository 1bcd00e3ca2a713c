#!/usr/bin/env bash
# Makes the Pulumi toolchain this project needs available and prints the folder that holds it (one line on stdout;
# progress goes to stderr).
#
#   1. A `pulumi` on PATH at or above the @pulumi/pulumi version in package-lock.json is used as it is (the path real
#      users with Pulumi installed take: nothing is built). The Kubernetes stack also needs the provider plugin at the
#      @pulumi/kubernetes version; if that `pulumi` has none, the script says how to install it.
#   2. Otherwise the toolchain is built from Go modules into a cache outside the checkout, each part keyed by its own
#      version so that changing one rebuilds only it:
#        cli-v<version>/pulumi                     the CLI (github.com/pulumi/pulumi/pkg/v3 at PULUMI_CLI_VERSION)
#        language-host-<sdk>-<hash>/               bluegreen's Node.js language host (scripts/toolchain/language-host)
#                                                  and its dynamic-provider launcher (pulumi-resource-pulumi-nodejs)
#        kubernetes-v<version>/                    the Kubernetes provider (github.com/pulumi/pulumi-kubernetes)
#        pulumi-home/plugins/                      that provider installed as a plugin (PULUMI_HOME of the project's
#                                                  runs; see scripts/env.sh), found by version like a downloaded one
#        set-<cli>-<host>-<kubernetes>/bin/        the folder printed: hard links to the three executables (named
#                                                  bin/ because the Automation API's PulumiCommand wants <root>/bin)
#      Each binary is built into a temporary name and renamed when complete, so an interrupted run resumes cleanly.
#
# Usage: toolchain.sh [--check]   (--check: never build; exit 64 with one line on stderr when nothing is ready)
#
# Environment:
#   BLUEGREEN_TOOLCHAIN_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain)
#   BLUEGREEN_FORCE_BUILD=1    ignore a `pulumi` on PATH and use/build the cached toolchain
#
# Never downloads from GitHub or get.pulumi.com: only the Go module proxy is used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=toolchain/versions.sh
. "$ROOT/scripts/toolchain/versions.sh"
CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1
log() { printf 'toolchain: %s\n' "$*" >&2; }
die() {
  printf 'toolchain: error: %s\n' "$*" >&2
  exit 1
}

# Node.js for the project (the machine's when new enough, else the one scripts/node.sh fetched).
NODE_BIN="$(bash "$ROOT/scripts/node.sh")" || die "no usable Node.js (see above)"
export PATH="$NODE_BIN:$PATH"

lock_version() {
  # The version npm resolved for a package, from the committed lock file (what `npm ci` installs).
  node -e '
    const lock = require(process.argv[1]);
    const entry = lock.packages && lock.packages["node_modules/" + process.argv[2]];
    if (!entry) { console.error("not in package-lock.json: " + process.argv[2]); process.exit(1); }
    console.log(entry.version);
  ' "$ROOT/package-lock.json" "$1"
}

# version_at_least A B: true when semver A >= B (numeric major.minor.patch; a leading v is ignored).
version_at_least() {
  node -e '
    const p = (v) => v.replace(/^v/, "").split(/[.+-]/).slice(0, 3).map(Number);
    const [a, b] = [p(process.argv[1]), p(process.argv[2])];
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) process.exit(a[i] > b[i] ? 0 : 1);
  ' "$1" "$2"
}

SDK_VERSION="$(lock_version @pulumi/pulumi)" || die "cannot read the @pulumi/pulumi version from package-lock.json"
KUBERNETES_VERSION="$(lock_version @pulumi/kubernetes)" || die "cannot read the @pulumi/kubernetes version from package-lock.json"
version_at_least "$PULUMI_CLI_VERSION" "$SDK_VERSION" ||
  die "PULUMI_CLI_VERSION $PULUMI_CLI_VERSION (scripts/toolchain/versions.sh) is older than @pulumi/pulumi $SDK_VERSION"

# 1. A Pulumi install on PATH that can run this SDK wins.
if [[ "${BLUEGREEN_FORCE_BUILD:-}" != "1" ]] && command -v pulumi >/dev/null 2>&1; then
  found="$(PULUMI_SKIP_UPDATE_CHECK=1 pulumi version 2>/dev/null || true)"
  if [[ "$found" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] && version_at_least "$found" "$SDK_VERSION"; then
    log "using pulumi $found from $(command -v pulumi) (needs v$SDK_VERSION or newer)"
    if ! PULUMI_SKIP_UPDATE_CHECK=1 pulumi plugin ls 2>/dev/null | grep -Eq "^kubernetes[[:space:]]+resource[[:space:]]+$KUBERNETES_VERSION[[:space:]]"; then
      log "note: no kubernetes $KUBERNETES_VERSION provider plugin in that install; the kubernetes (staging) stack needs it:" \
        "pulumi plugin install resource kubernetes $KUBERNETES_VERSION"
    fi
    dirname "$(command -v pulumi)"
    exit 0
  fi
  log "pulumi on PATH is ${found:-unknown}, this project needs v$SDK_VERSION or newer: using the built toolchain instead"
fi

# The Kubernetes provider module has no semver tags on the module proxy; each @pulumi/kubernetes release we support
# maps to the provider commit the proxy serves and the SDK module that commit was built against. (The newest
# @pulumi/kubernetes on npm is newer, but the proxy serves no provider source for it: the SDK stays at this version.)
case "$KUBERNETES_VERSION" in
  4.25.0)
    K8S_PROVIDER_MODULE_VERSION="v4.0.0-20260115033456-f47bc2d6f199"
    K8S_SDK_MODULE_VERSION="v4.24.0"
    ;;
  *)
    die "no Kubernetes provider source is known for @pulumi/kubernetes $KUBERNETES_VERSION; supported: 4.25.0 (add the module version to scripts/toolchain.sh)"
    ;;
esac

HOST_DIR="$ROOT/scripts/toolchain/language-host"
HOST_HASH="$(cat "$HOST_DIR/main.go" "$HOST_DIR/pulumi-resource-pulumi-nodejs" "$ROOT/scripts/toolchain/versions.sh" |
  sha256sum | cut -c1-12)"
CACHE_ROOT="${BLUEGREEN_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain}"
CLI_DIR="$CACHE_ROOT/cli-v$PULUMI_CLI_VERSION"
HOSTBUILD_DIR="$CACHE_ROOT/language-host-v$PULUMI_CLI_VERSION-$HOST_HASH"
K8S_DIR="$CACHE_ROOT/kubernetes-v$KUBERNETES_VERSION"
HOME_DIR="$CACHE_ROOT/pulumi-home"
SET_DIR="$CACHE_ROOT/set-v$PULUMI_CLI_VERSION-host-$HOST_HASH-kubernetes-v$KUBERNETES_VERSION"
BIN="$SET_DIR/bin"

if [[ -f "$SET_DIR/complete" ]]; then
  log "cached toolchain: pulumi v$PULUMI_CLI_VERSION in $BIN"
  echo "$BIN"
  exit 0
fi

if [[ "$CHECK_ONLY" == "1" ]]; then
  printf 'the Pulumi toolchain is not ready: run `npm run toolchain` in %s (or put pulumi v%s or newer on PATH)\n' \
    "$ROOT" "$SDK_VERSION" >&2
  exit 64
fi

command -v go >/dev/null 2>&1 || die "no pulumi v$SDK_VERSION or newer on PATH and no Go to build it.
  Either install the Pulumi CLI (v$SDK_VERSION or newer: https://www.pulumi.com/docs/install/) and put it on PATH,
  or install Go 1.26 or newer (https://go.dev/dl/, or your distribution's golang package) and run again."

mkdir -p "$CLI_DIR" "$HOSTBUILD_DIR" "$K8S_DIR"
# One build at a time per cache: a second run (another terminal, parallel tests) waits, then finds the result.
exec 9>"$CACHE_ROOT/.build.lock"
if ! flock -n 9; then
  log "another toolchain build is running in $CACHE_ROOT: waiting for it"
  flock 9
fi
if [[ -f "$SET_DIR/complete" ]]; then
  log "cached toolchain: pulumi v$PULUMI_CLI_VERSION in $BIN"
  echo "$BIN"
  exit 0
fi
# Builds never reach beyond the module proxy; GOTOOLCHAIN=local stops go from fetching another Go release.
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
started=$SECONDS

# Writes a throwaway Go module that only requires what we build (go install refuses modules with replace directives).
write_module() {
  local dir="$1" module="$2" requires="$3" replaces="$4" tool="$5"
  mkdir -p "$dir"
  printf 'module %s\n\ngo 1.26\n\nrequire (\n%s)\n\n%s\n' "$module" "$requires" "$replaces" >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$tool" >"$dir/tools.go"
}

build_into() {
  # build_into OUTDIR NAME DIR PACKAGE LDFLAGS: go build in DIR, atomically installed as OUTDIR/NAME.
  local out="$1" name="$2" dir="$3" pkg="$4" ldflags="$5"
  log "building $name (this takes a few minutes the first time)"
  (cd "$dir" && go mod tidy >/dev/null 2>"$dir/tidy.log") || die "go mod tidy failed for $name: see $dir/tidy.log"
  (cd "$dir" && go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$out/.$name.tmp" "$pkg") ||
    die "go build failed for $name"
  mv -f "$out/.$name.tmp" "$out/$name"
}

PULUMI_LDFLAGS="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_CLI_VERSION"

if [[ ! -x "$CLI_DIR/pulumi" ]]; then
  # pkg/v3's go.mod replaces the clipboard module with a fork; a consumer module must repeat that replace.
  write_module "$CLI_DIR/work" "bluegreen.local/toolchain/pulumi" \
    "	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_CLI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_CLI_VERSION
" "replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e" \
    "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  build_into "$CLI_DIR" pulumi "$CLI_DIR/work" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_LDFLAGS"
fi

if [[ ! -x "$HOSTBUILD_DIR/pulumi-language-nodejs" ]]; then
  dir="$HOSTBUILD_DIR/work"
  mkdir -p "$dir"
  cp "$HOST_DIR/main.go" "$dir/main.go"
  printf 'module bluegreen.local/toolchain/pulumi-language-nodejs\n\ngo 1.26\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
    "$PULUMI_CLI_VERSION" >"$dir/go.mod"
  build_into "$HOSTBUILD_DIR" pulumi-language-nodejs "$dir" . "$PULUMI_LDFLAGS"
fi

if [[ ! -x "$HOSTBUILD_DIR/pulumi-resource-pulumi-nodejs" ]]; then
  # Our launcher: the SDK's contract, with a code cache and one node start fewer (see the script).
  install -m 0755 "$HOST_DIR/pulumi-resource-pulumi-nodejs" "$HOSTBUILD_DIR/.pulumi-resource-pulumi-nodejs.tmp"
  mv -f "$HOSTBUILD_DIR/.pulumi-resource-pulumi-nodejs.tmp" "$HOSTBUILD_DIR/pulumi-resource-pulumi-nodejs"
fi

if [[ ! -x "$K8S_DIR/pulumi-resource-kubernetes" ]]; then
  dir="$K8S_DIR/work"
  src="$dir/provider"
  if [[ ! -f "$src/cmd/pulumi-resource-kubernetes/schema-embed.json" ]]; then
    # The module zip lacks the generated, versioned schema that the provider embeds: generate it in a writable copy.
    mkdir -p "$dir"
    (cd "$dir" && printf 'module bluegreen.local/toolchain/kubernetes-fetch\n\ngo 1.26\n' >go.mod &&
      go mod download "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION") ||
      die "cannot download github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION"
    moddir="$(go env GOMODCACHE)/github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION"
    rm -rf "$src.tmp" && cp -r "$moddir" "$src.tmp" && chmod -R u+w "$src.tmp"
    (cd "$src.tmp/cmd/pulumi-resource-kubernetes" && VERSION="$KUBERNETES_VERSION" go run generate.go) ||
      die "generating the Kubernetes provider schema failed"
    rm -rf "$src" && mv "$src.tmp" "$src"
    rm -f "$dir/go.mod" "$dir/go.sum"
  fi
  # The provider's own replace (sdk => ../sdk) only applies to it as main module; require the SDK module instead.
  write_module "$dir" "bluegreen.local/toolchain/kubernetes" \
    "	github.com/pulumi/pulumi-kubernetes/provider/v4 $K8S_PROVIDER_MODULE_VERSION
	github.com/pulumi/pulumi-kubernetes/sdk/v4 $K8S_SDK_MODULE_VERSION
" "replace github.com/pulumi/pulumi-kubernetes/provider/v4 => ./provider" \
    "github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes"
  build_into "$K8S_DIR" pulumi-resource-kubernetes "$dir" \
    github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION"
fi

if [[ ! -d "$HOME_DIR/plugins/resource-kubernetes-v$KUBERNETES_VERSION" ]]; then
  PULUMI_HOME="$HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=1 "$CLI_DIR/pulumi" plugin install resource kubernetes \
    "$KUBERNETES_VERSION" --file "$K8S_DIR/pulumi-resource-kubernetes" >&2 ||
    die "installing the Kubernetes provider plugin into $HOME_DIR failed"
fi

# The printed folder: hard links (same file system, no copy) so the engine finds the host next to the CLI.
mkdir -p "$BIN"
# scripts/env.sh finds the Pulumi home holding the plugins next to the bin folder.
ln -sfn "$HOME_DIR" "$SET_DIR/pulumi-home"
for f in "$CLI_DIR/pulumi" "$HOSTBUILD_DIR/pulumi-language-nodejs" "$HOSTBUILD_DIR/pulumi-resource-pulumi-nodejs"; do
  ln -f "$f" "$BIN/$(basename "$f")" 2>/dev/null || cp -f "$f" "$BIN/$(basename "$f")"
done
reported="$(PULUMI_SKIP_UPDATE_CHECK=1 "$BIN/pulumi" version)"
[[ "$reported" == "v$PULUMI_CLI_VERSION" ]] || die "built pulumi reports '$reported', expected v$PULUMI_CLI_VERSION"
date -u +%FT%TZ >"$SET_DIR/complete"
log "toolchain ready in $((SECONDS - started)) s: $BIN"
echo "$BIN"

#!/usr/bin/env bash
# Makes the Pulumi toolchain this project needs available and prints the folder that holds it (one line on stdout;
# progress goes to stderr).
#
#   1. A `pulumi` on PATH with the version of @pulumi/pulumi in package-lock.json is used as it is (the path real
#      users with Pulumi installed take).
#   2. Otherwise the toolchain is built from Go modules, pinned to the lock file, into a cache outside the checkout:
#        pulumi                          the CLI (github.com/pulumi/pulumi/pkg/v3)
#        pulumi-language-nodejs          bluegreen's Node.js language host (scripts/toolchain/language-host)
#        pulumi-resource-pulumi-nodejs   the dynamic-provider launcher script shipped in the SDK module
#      and the Kubernetes provider (github.com/pulumi/pulumi-kubernetes/provider/v4), installed as a plugin into
#      ../pulumi-home next to that folder (PULUMI_HOME for the project's runs; see scripts/env.sh), so the engine
#      finds it by version like a downloaded plugin instead of as an unversioned binary on PATH.
#      Each binary is built into a temporary name and renamed when complete, so an interrupted run resumes cleanly.
#
# Environment:
#   BLUEGREEN_TOOLCHAIN_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain)
#   BLUEGREEN_FORCE_BUILD=1    ignore a `pulumi` on PATH and use/build the cached toolchain
#
# Never downloads from GitHub or get.pulumi.com: only the Go module proxy is used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'toolchain: %s\n' "$*" >&2; }
die() {
  printf 'toolchain: error: %s\n' "$*" >&2
  exit 1
}

lock_version() {
  # The version npm resolved for a package, from the committed lock file (what `npm ci` installs).
  node -e '
    const lock = require(process.argv[1]);
    const entry = lock.packages && lock.packages["node_modules/" + process.argv[2]];
    if (!entry) { console.error("not in package-lock.json: " + process.argv[2]); process.exit(1); }
    console.log(entry.version);
  ' "$ROOT/package-lock.json" "$1"
}

command -v node >/dev/null 2>&1 || die "node is not on PATH; install Node.js 20 or newer (https://nodejs.org) and run again"

PULUMI_VERSION="$(lock_version @pulumi/pulumi)" || die "cannot read the @pulumi/pulumi version from package-lock.json"
KUBERNETES_VERSION="$(lock_version @pulumi/kubernetes)" || die "cannot read the @pulumi/kubernetes version from package-lock.json"

# 1. A matching Pulumi install on PATH wins.
if [[ "${BLUEGREEN_FORCE_BUILD:-}" != "1" ]] && command -v pulumi >/dev/null 2>&1; then
  found="$(PULUMI_SKIP_UPDATE_CHECK=1 pulumi version 2>/dev/null || true)"
  if [[ "$found" == "v$PULUMI_VERSION" ]]; then
    log "using pulumi $found from PATH"
    dirname "$(command -v pulumi)"
    exit 0
  fi
  log "pulumi on PATH is ${found:-unknown}, this project needs v$PULUMI_VERSION: using the built toolchain instead"
fi

# The Kubernetes provider module has no semver tags on the module proxy; each @pulumi/kubernetes release we support
# maps to the provider commit the proxy serves and the SDK module that commit was built against.
case "$KUBERNETES_VERSION" in
  4.25.0)
    K8S_PROVIDER_MODULE_VERSION="v4.0.0-20260115033456-f47bc2d6f199"
    K8S_SDK_MODULE_VERSION="v4.24.0"
    ;;
  *)
    die "no Kubernetes provider source is known for @pulumi/kubernetes $KUBERNETES_VERSION; supported: 4.25.0 (add the module version to scripts/toolchain.sh)"
    ;;
esac

HOST_SRC="$ROOT/scripts/toolchain/language-host/main.go"
HOST_HASH="$(sha256sum "$HOST_SRC" | cut -c1-12)"
CACHE_ROOT="${BLUEGREEN_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain}"
CACHE="$CACHE_ROOT/pulumi-v$PULUMI_VERSION-kubernetes-v$KUBERNETES_VERSION-host-$HOST_HASH"
BIN="$CACHE/bin"
PROVIDERS="$CACHE/providers"
HOME_DIR="$CACHE/pulumi-home"
WORK="$CACHE/work"

if [[ -f "$CACHE/complete" ]]; then
  log "cached toolchain: $BIN"
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "no pulumi v$PULUMI_VERSION on PATH and no Go to build it.
  Either install the Pulumi CLI v$PULUMI_VERSION (https://www.pulumi.com/docs/install/) and put it on PATH,
  or install Go 1.25 or newer (https://go.dev/dl/, or your distribution's golang package) and run again."

mkdir -p "$BIN" "$PROVIDERS" "$WORK"
# Builds never reach beyond the module proxy; GOTOOLCHAIN=local stops go from fetching another Go release.
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
started=$SECONDS

# Writes a throwaway Go module that only requires what we build (go install refuses modules with replace directives).
write_module() {
  local dir="$1" module="$2" requires="$3" replaces="$4" tool="$5"
  mkdir -p "$dir"
  printf 'module %s\n\ngo 1.25\n\nrequire (\n%s)\n\n%s\n' "$module" "$requires" "$replaces" >"$dir/go.mod"
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

PULUMI_LDFLAGS="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

if [[ ! -x "$BIN/pulumi" ]]; then
  # pkg/v3's go.mod replaces the clipboard module with a fork; a consumer module must repeat that replace.
  write_module "$WORK/pulumi" "bluegreen.local/toolchain/pulumi" \
    "	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
" "replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e" \
    "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  build_into "$BIN" pulumi "$WORK/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$PULUMI_LDFLAGS"
fi

if [[ ! -x "$BIN/pulumi-language-nodejs" ]]; then
  dir="$WORK/language-host"
  mkdir -p "$dir"
  cp "$HOST_SRC" "$dir/main.go"
  printf 'module bluegreen.local/toolchain/pulumi-language-nodejs\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
    "$PULUMI_VERSION" >"$dir/go.mod"
  build_into "$BIN" pulumi-language-nodejs "$dir" . "$PULUMI_LDFLAGS"
fi

if [[ ! -x "$BIN/pulumi-resource-pulumi-nodejs" ]]; then
  sdk_dir="$(cd "$WORK/language-host" && go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")"
  install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$BIN/.pulumi-resource-pulumi-nodejs.tmp"
  mv -f "$BIN/.pulumi-resource-pulumi-nodejs.tmp" "$BIN/pulumi-resource-pulumi-nodejs"
fi

if [[ ! -x "$PROVIDERS/pulumi-resource-kubernetes" ]]; then
  dir="$WORK/kubernetes"
  src="$dir/provider"
  if [[ ! -f "$src/cmd/pulumi-resource-kubernetes/schema-embed.json" ]]; then
    # The module zip lacks the generated, versioned schema that the provider embeds: generate it in a writable copy.
    mkdir -p "$dir"
    (cd "$dir" && printf 'module bluegreen.local/toolchain/kubernetes-fetch\n\ngo 1.25\n' >go.mod &&
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
  build_into "$PROVIDERS" pulumi-resource-kubernetes "$dir" \
    github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes \
    "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION"
fi

if [[ ! -d "$HOME_DIR/plugins/resource-kubernetes-v$KUBERNETES_VERSION" ]]; then
  PULUMI_HOME="$HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=1 "$BIN/pulumi" plugin install resource kubernetes \
    "$KUBERNETES_VERSION" --file "$PROVIDERS/pulumi-resource-kubernetes" >&2 ||
    die "installing the Kubernetes provider plugin into $HOME_DIR failed"
fi

reported="$(PULUMI_SKIP_UPDATE_CHECK=1 "$BIN/pulumi" version)"
[[ "$reported" == "v$PULUMI_VERSION" ]] || die "built pulumi reports '$reported', expected v$PULUMI_VERSION"
date -u +%FT%TZ >"$CACHE/complete"
log "toolchain ready in $((SECONDS - started)) s: $BIN"
echo "$BIN"

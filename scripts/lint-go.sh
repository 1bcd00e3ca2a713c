#!/usr/bin/env bash
# Checks the Go language host (scripts/toolchain/language-host) in a build module of its own in the toolchain cache
# (the host's sources are a package main without go.mod in the checkout; the module requires the same sdk/v3 as the
# host that scripts/toolchain.sh builds):
#   scripts/lint-go.sh          gofmt + go vet   (npm run lint)
#   scripts/lint-go.sh --test   go test          (npm test)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=toolchain/versions.sh
. scripts/toolchain/versions.sh
command -v go >/dev/null 2>&1 || { echo "go host: no Go on PATH, skipped (a pulumi on PATH needs no host build)"; exit 0; }
src=scripts/toolchain/language-host
cache="${BLUEGREEN_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/toolchain}"
module="$cache/language-host-check-v$PULUMI_CLI_VERSION"
mkdir -p "$module"
rm -f "$module"/*.go
cp "$src"/*.go "$module/"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
if [[ ! -f "$module/go.mod" ]]; then
  printf 'module bluegreen.local/toolchain/pulumi-language-nodejs\n\ngo 1.26\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
    "$PULUMI_CLI_VERSION" >"$module/go.mod"
fi
(cd "$module" && go mod tidy >/dev/null 2>"$module/tidy.log") || { echo "go host: go mod tidy failed: see $module/tidy.log" >&2; exit 1; }
if [[ "${1:-}" == "--test" ]]; then
  (cd "$module" && go test -count=1 .)
  exit 0
fi
unformatted="$(gofmt -l "$src")"
[[ -z "$unformatted" ]] || { echo "go host: not gofmt-formatted: $unformatted" >&2; exit 1; }
(cd "$module" && go vet .)
echo "go host: gofmt and go vet ok"

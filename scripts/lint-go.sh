#!/usr/bin/env bash
# Checks the Go language host in the toolchain's build module (which has its go.mod/go.sum):
#   scripts/lint-go.sh          gofmt + go vet   (npm run lint)
#   scripts/lint-go.sh --test   go test          (npm test)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null 2>&1 || { echo "go host: no Go on PATH, skipped (a pulumi on PATH needs no host build)"; exit 0; }
src=scripts/toolchain/language-host
bin="$(bash scripts/toolchain.sh 2>/dev/null)"
module="$bin/../work/language-host"
if [[ ! -f "$module/go.mod" ]]; then
  echo "go host: the toolchain came from PATH, not built here: skipped"
  exit 0
fi
cp "$src"/*.go "$module/"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
if [[ "${1:-}" == "--test" ]]; then
  (cd "$module" && go test -count=1 .)
  exit 0
fi
unformatted="$(gofmt -l "$src")"
[[ -z "$unformatted" ]] || { echo "go host: not gofmt-formatted: $unformatted" >&2; exit 1; }
(cd "$module" && go vet .)
echo "go host: gofmt and go vet ok"

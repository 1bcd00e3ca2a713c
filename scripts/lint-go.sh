#!/usr/bin/env bash
# Lints the Go language host: gofmt, and go vet in the toolchain's build module (which has its go.mod/go.sum).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null 2>&1 || { echo "lint-go: no Go on PATH, skipped"; exit 0; }
unformatted="$(gofmt -l scripts/toolchain/language-host)"
[[ -z "$unformatted" ]] || { echo "lint-go: not gofmt-formatted: $unformatted" >&2; exit 1; }
bin="$(bash scripts/toolchain.sh 2>/dev/null)"
module="$bin/../work/language-host"
if [[ -f "$module/go.mod" ]]; then
  cp scripts/toolchain/language-host/main.go "$module/main.go"
  (cd "$module" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go vet .)
fi
echo "lint-go: ok"

#!/usr/bin/env bash
# Runs a command with the project's environment (pinned toolchain on PATH, file backend, demo passphrase).
# Stacks the command names (--stack/-s/--to, e.g. `bluegreen deploy --stack staging`) get what they need: a
# kubernetes stack the Kubernetes provider (built here on first use; with BLUEGREEN_TOOLCHAIN_CHECK_ONLY=1, as the
# bluegreen CLI runs it, one line saying what to run instead). `--with kubernetes` first brings it in any case.
set -euo pipefail
if [[ "${1:-}" == "--with" && $# -ge 2 ]]; then
  BLUEGREEN_TOOLCHAIN_WITH="${BLUEGREEN_TOOLCHAIN_WITH:-} $2"
  shift 2
fi
. "$(dirname "${BASH_SOURCE[0]}")/env.sh" --for "$@"
exec "$@"

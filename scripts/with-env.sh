#!/usr/bin/env bash
# Runs a command with the project's environment (pinned toolchain on PATH, file backend, demo passphrase).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$@"

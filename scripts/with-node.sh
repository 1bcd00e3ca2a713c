#!/usr/bin/env bash
# Runs a command with the project's Node.js on PATH (Node 24; fetched by scripts/node.sh when the machine's is older).
# For commands that need no Pulumi toolchain (lint, type-check, policy benchmark).
set -euo pipefail
node_bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/node.sh")"
export PATH="$node_bin:$PATH"
exec "$@"

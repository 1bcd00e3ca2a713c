#!/usr/bin/env bash
# Runs the pinned `pulumi` with the project's environment (toolchain, file backend, demo passphrase):
#   npm run pulumi -- stack ls
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$BLUEGREEN_ROOT"
exec pulumi "$@"

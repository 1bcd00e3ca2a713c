#!/usr/bin/env bash
# The project's test command (`npm test`): unit tests under mocks, policy tests, automation tests and end-to-end
# tests that run the real Pulumi engine, policy analyzer and router. Extra arguments go to mocha (e.g. a file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# From a fresh clone, `npm test` alone is enough: install what is missing first (CI has run these already).
PATH="$(bash scripts/node.sh):$PATH"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
[[ -d policy/node_modules ]] || (cd policy && npm ci --no-audit --no-fund)
bash scripts/install-system-deps.sh
. scripts/env.sh
if [[ $# -eq 0 ]]; then
  bash scripts/lint-go.sh --test
  set -- 'test/unit/**/*.test.ts' 'test/policy/**/*.test.ts' 'test/automation/**/*.test.ts' 'test/e2e/**/*.test.ts'
fi
exec npx mocha --reporter test/support/summary-reporter.js "$@"

#!/usr/bin/env bash
# The project's test command (`npm test`): unit tests under mocks, policy tests, automation tests and end-to-end
# tests that run the real Pulumi engine, policy analyzer and router. Extra arguments go to mocha (e.g. a file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/env.sh
if [[ $# -eq 0 ]]; then
  set -- 'test/unit/**/*.test.ts' 'test/policy/**/*.test.ts' 'test/automation/**/*.test.ts' 'test/e2e/**/*.test.ts'
fi
exec npx mocha --reporter test/support/summary-reporter.js "$@"

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
# The tests bind fixed loopback ports in 30000-36999 (control plane, Prometheus, PostgreSQL, Redis, throwaway stacks);
# part of that range is also the kernel's ephemeral range, where a plugin's gRPC listener once took one first.
# Reserve it (explicit binds still work) when this machine lets us.
if [[ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]]; then
  reserved="$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
  [[ ",$reserved," == *",30000-36999,"* ]] ||
    echo "${reserved:+$reserved,}30000-36999" >/proc/sys/net/ipv4/ip_local_reserved_ports 2>/dev/null || true
fi
# The Kubernetes e2e test starts the project's control plane; build it here (minutes on a fresh machine) so that
# no mocha timeout covers the build. Cached after the first time.
if [[ $# -eq 0 || "$*" == *e2e* ]]; then
  bash scripts/cluster.sh build
fi
if [[ $# -eq 0 ]]; then
  bash scripts/lint-go.sh --test
  set -- 'test/unit/**/*.test.ts' 'test/policy/**/*.test.ts' 'test/automation/**/*.test.ts' 'test/e2e/**/*.test.ts'
fi
exec npx mocha --reporter test/support/summary-reporter.js "$@"

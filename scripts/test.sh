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
# Everything the tests use, the Kubernetes provider included (the e2e tests deploy kubernetes stacks); only a run of
# unit or policy tests alone goes without it.
BLUEGREEN_TOOLCHAIN_WITH=kubernetes
if (($#)); then
  only_mocks=1
  for arg in "$@"; do [[ "$arg" == test/unit/* || "$arg" == test/policy/* ]] || only_mocks=0; done
  ((only_mocks)) && BLUEGREEN_TOOLCHAIN_WITH=""
fi
. scripts/env.sh
# The tests bind loopback ports in 30000-39999: fixed ones in 30000-36999 (control plane, S3 store, Prometheus,
# PostgreSQL, Redis, throwaway stacks) and blocks picked from the pid in 37000-39999 (test/e2e/local-harness.ts,
# test/automation/support).
# Most of that is also the kernel's ephemeral range, where a plugin's gRPC listener or a connection once took a port
# first. Reserve it (explicit binds still work) when this machine lets us.
if [[ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]]; then
  reserved="$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)"
  if [[ ",$reserved," != *",30000-39999,"* ]]; then
    others="$(tr ',' '\n' <<<"$reserved" | { grep -v -x -e '' -e '30000-36999' || true; } | paste -sd, -)"
    echo "${others:+$others,}30000-39999" >/proc/sys/net/ipv4/ip_local_reserved_ports 2>/dev/null || true
  fi
fi
# The Kubernetes e2e test starts the project's control plane, the state-store test an S3 server; build both here
# (minutes on a fresh machine) so that no mocha timeout covers a build. Cached after the first time.
if [[ $# -eq 0 || "$*" == *e2e* ]]; then
  bash scripts/cluster.sh build
  bash scripts/s3.sh build
fi
if [[ $# -eq 0 ]]; then
  bash scripts/lint-go.sh --test
  set -- 'test/unit/**/*.test.ts' 'test/policy/**/*.test.ts' 'test/automation/**/*.test.ts' 'test/e2e/**/*.test.ts'
fi
exec npx mocha --reporter test/support/summary-reporter.js "$@"

#!/usr/bin/env bash
# Installs the Debian packages the local platform and its tests need: HAProxy (the router), PostgreSQL (the demo's
# database, scripts/postgres.sh) and Redis (its shared sessions, scripts/redis.sh). Runs apt only when a package is
# missing and we are root; otherwise says what to install.
set -euo pipefail
needed=()
command -v haproxy >/dev/null 2>&1 || needed+=(haproxy)
command -v socat >/dev/null 2>&1 || needed+=(socat)
# Observability (docs/observability.md): a real Prometheus for the bake gate, headless Chromium for the HTML release
# report's browser test, tmux for the terminal-output test.
command -v prometheus >/dev/null 2>&1 || needed+=(prometheus)
command -v chromium >/dev/null 2>&1 || needed+=(chromium)
command -v tmux >/dev/null 2>&1 || needed+=(tmux)
command -v curl >/dev/null 2>&1 || needed+=(curl)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || needed+=(postgresql)
command -v psql >/dev/null 2>&1 || needed+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || needed+=(redis-server)
if [[ ${#needed[@]} -eq 0 ]]; then
  echo "system packages: all present (haproxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}'))"
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages missing: ${needed[*]}; install them (Debian/Ubuntu: sudo apt-get install ${needed[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
echo "system packages: installed ${needed[*]}"

#!/usr/bin/env bash
# Installs the Debian packages the local platform and its tests need: HAProxy (the router), PostgreSQL (the demo's
# database, scripts/postgres.sh), Redis (its shared sessions, scripts/redis.sh) and the real Kubernetes node's
# runtime (containerd, runc, CNI plugins, iptables, umoci, skopeo). Runs apt only when a package is
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
# The real Kubernetes node (scripts/cluster.sh start --node real): the container runtime, the pod network's CNI
# plugins, the tables kube-proxy programs, and the tools that build the demo app's image without a registry.
command -v containerd >/dev/null 2>&1 || needed+=(containerd)
command -v runc >/dev/null 2>&1 || needed+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap ]] || needed+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || needed+=(iptables)
command -v nft >/dev/null 2>&1 || needed+=(nftables)
command -v conntrack >/dev/null 2>&1 || needed+=(conntrack)
command -v umoci >/dev/null 2>&1 || needed+=(umoci)
command -v skopeo >/dev/null 2>&1 || needed+=(skopeo)
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

#!/usr/bin/env bash
# A real Kubernetes control plane on this machine for the `kubernetes` platform's tests and for trying staging:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from Go modules, plus kwok, which simulates
# the nodes and the pod lifecycle (pods are scheduled, get IPs and turn Ready; EndpointSlices fill) without running
# containers. Everything listens on 127.0.0.1 only.
#
# `start --node real` runs a real node instead of kwok: containerd, runc and CNI plugins (Debian packages) with
# kubelet and kube-proxy (built here like the control plane), in a network namespace of their own
# (scripts/cluster/node.sh), and the demo app's image built locally and imported. Pods then run and serve HTTP; the
# host reaches their Services' ClusterIPs. kwok stays the default: the tests that simulate many pods or nodes need no
# containers and start in seconds.
#
#   bash scripts/cluster.sh build    build the binaries into the cache (once per version; resumable)
#   bash scripts/cluster.sh start    build if needed, start (or keep) the cluster; the last line printed is the
#                                    kubeconfig path (admin, system:masters). --fresh wipes the cluster's data first.
#                                    --node kwok (default) or --node real (root; see above)
#   bash scripts/cluster.sh tag REF...  (real node) the demo app's image under more names, e.g. demo:1.2.0
#   bash scripts/cluster.sh namespace NAME   create a namespace (the project ships no kubectl)
#   bash scripts/cluster.sh info     (real node) shell variables: the node's netns, bridge, subnets, cgroup root
#   bash scripts/cluster.sh status   one line per component; exit 0 when all run and the API server is ready,
#                                    3 when stopped, 1 when only some run
#   bash scripts/cluster.sh stop     stop every process this script started; no process and no port is left; with
#                                    a real node also no mount, network device, netns, iptables rule, cgroup or host
#                                    path it made
#
# Also `npm run cluster -- <command>`. Progress goes to stderr.
#
# Binaries: ${XDG_CACHE_HOME:-~/.cache}/bluegreen/cluster/<versions>-<hash of scripts/cluster>/bin, each built into
# a temporary name and renamed when complete. Only the Go module proxy is used (GOTOOLCHAIN=local).
# Cluster data, certificates, kubeconfigs, logs and pid files: $BLUEGREEN_CLUSTER_DIR
# (default $BLUEGREEN_STATE_DIR/cluster, and BLUEGREEN_STATE_DIR defaults to .state in the checkout).
#
# Ports (127.0.0.1): etcd 32379 (clients) and 32380 (peers), kube-apiserver 32443, kube-controller-manager 32257,
# kube-scheduler 32259, kwok 32247. Set BLUEGREEN_CLUSTER_PORT_OFFSET=N to shift them all by N.
#
# Exit codes: 0 done, 1 failed (the message names the component and its log), 2 bad usage, 3 (status) stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/cluster"
log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  printf 'cluster: error: %s\n' "$*" >&2
  exit 1
}

KUBERNETES_VERSION=v1.36.3
ETCD_VERSION=v3.6.8
KWOK_VERSION=v0.8.0
SOURCE_HASH="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/etcd/main.go" "$SRC/pause/main.go" "$SRC/kwok/go.mod" "$SRC/kwok/go.sum" |
  sha256sum | cut -c1-12)"
CACHE_ROOT="${BLUEGREEN_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/cluster}"
CACHE="$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$SOURCE_HASH"
BIN="$CACHE/bin"
CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler)
COMPONENTS=("${CONTROL_PLANE[@]}" kwok)

STATE_DIR="${BLUEGREEN_STATE_DIR:-$ROOT/.state}"
DIR="${BLUEGREEN_CLUSTER_DIR:-$STATE_DIR/cluster}"
PKI="$DIR/pki"
RUN="$DIR/run"
LOGS="$DIR/logs"
OFFSET="${BLUEGREEN_CLUSTER_PORT_OFFSET:-0}"
[[ "$OFFSET" =~ ^[0-9]+$ ]] || {
  printf 'cluster: error: BLUEGREEN_CLUSTER_PORT_OFFSET must be a whole number, got "%s"\n' "$OFFSET" >&2
  exit 2
}
ETCD_PORT=$((32379 + OFFSET))
ETCD_PEER_PORT=$((32380 + OFFSET))
APISERVER_PORT=$((32443 + OFFSET))
CONTROLLER_MANAGER_PORT=$((32257 + OFFSET))
SCHEDULER_PORT=$((32259 + OFFSET))
KWOK_PORT=$((32247 + OFFSET))
APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"
KUBECONFIG_PATH="$DIR/kubeconfig"
SERVICE_CIDR=10.96.0.0/16
# shellcheck source=scripts/cluster/node.sh
. "$SRC/node.sh"
# Which components this cluster runs: kwok or the real node's, as recorded by the last start.
if node_mode; then
  COMPONENTS=("${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}")
  SERVICE_CIDR="$NODE_SERVICE_CIDR"
fi

# ---------------------------------------------------------------------------------------------------------------
# build

build() {
  if [[ -f "$CACHE/complete" ]]; then
    log "cached binaries: $BIN"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "building the control plane needs Go 1.26 or newer (https://go.dev/dl/, or your distribution's golang package)"
  mkdir -p "$BIN"
  # Builds never reach beyond the module proxy; GOTOOLCHAIN=local stops go from fetching another Go release.
  # -mod=readonly: the committed go.mod/go.sum are the pin; a build never rewrites them.
  export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
  local started=$SECONDS
  local version_pkg ldflags=""
  # Without these the binaries report v0.0.0-master, and clients that check the server version misjudge it.
  for version_pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=36"
    ldflags+=" -X $version_pkg.gitTreeState=clean"
  done

  local missing=() name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy pause; do
    [[ -x "$BIN/$name" ]] || missing+=("$name")
  done
  if ((${#missing[@]} > 0)); then
    local packages=()
    for name in "${missing[@]}"; do
      case "$name" in
        etcd | pause) packages+=("./$name") ;;
        *) packages+=("k8s.io/kubernetes/cmd/$name") ;;
      esac
    done
    log "building ${missing[*]} (about 5 minutes on 2 cores the first time)"
    # One `go build` for all of them, so the packages they share compile once. Static (no cgo): the pause binary
    # runs in an image with nothing else in it.
    rm -rf "$BIN/.build.tmp" && mkdir -p "$BIN/.build.tmp"
    (cd "$SRC" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$BIN/.build.tmp/" "${packages[@]}") ||
      die "go build failed for ${missing[*]}"
    for name in "${missing[@]}"; do
      mv -f "$BIN/.build.tmp/$name" "$BIN/$name"
    done
    rm -rf "$BIN/.build.tmp"
  fi

  if [[ ! -x "$BIN/kwok" ]]; then
    log "building kwok (about a minute the first time)"
    (cd "$SRC/kwok" && go build -trimpath \
      -o "$BIN/.kwok.tmp" sigs.k8s.io/kwok/cmd/kwok) || die "go build failed for kwok"
    mv -f "$BIN/.kwok.tmp" "$BIN/kwok"
  fi

  date -u +%FT%TZ >"$CACHE/complete"
  log "control plane built in $((SECONDS - started)) s: $BIN"
}


# ---------------------------------------------------------------------------------------------------------------
# certificates and kubeconfigs (openssl; ECDSA P-256 keys, generated once per cluster directory)

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the cluster CA.
sign() {
  local name="$1" subject="$2" extensions="$3"
  new_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$extensions" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 \
    -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

client_cert() {
  sign "$1" "$2" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
}

# kubeconfig FILE CERT: a kubeconfig for the user of PKI/CERT.{crt,key}, with the certificates embedded so the file
# still works when copied elsewhere.
kubeconfig() {
  local file="$1" cert="$2"
  cat >"$file.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: bluegreen-test
    cluster:
      server: $APISERVER_URL
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $cert
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
      client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
  - name: bluegreen-test
    context:
      cluster: bluegreen-test
      user: $cert
current-context: bluegreen-test
KUBECONFIG
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

certificates() {
  if [[ ! -f "$PKI/complete" ]]; then
    command -v openssl >/dev/null 2>&1 || die "the cluster's certificates need openssl (apt-get install openssl)"
    log "creating certificates in $PKI"
    rm -rf "$PKI" && mkdir -p "$PKI" && chmod 700 "$PKI"
    new_key "$PKI/ca.key"
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=bluegreen-test-ca" -days 3650 -out "$PKI/ca.crt" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    # Users the API server's bootstrap RBAC policy knows; the admin is a cluster admin through system:masters.
    client_cert admin "/O=system:masters/CN=bluegreen-admin"
    client_cert controller-manager "/CN=system:kube-controller-manager"
    client_cert scheduler "/CN=system:kube-scheduler"
    client_cert kwok "/O=system:masters/CN=kwok-controller"
    # Signs and verifies service account tokens.
    new_key "$PKI/service-account.key"
    openssl pkey -in "$PKI/service-account.key" -pubout -out "$PKI/service-account.pub" 2>/dev/null
    date -u +%FT%TZ >"$PKI/complete"
  fi
  # Written on every start: the port offset may have changed.
  kubeconfig "$KUBECONFIG_PATH" admin
  kubeconfig "$RUN/controller-manager.kubeconfig" controller-manager
  kubeconfig "$RUN/scheduler.kubeconfig" scheduler
  kubeconfig "$RUN/kwok.kubeconfig" kwok
}

# ---------------------------------------------------------------------------------------------------------------
# processes: each runs in its own session (it outlives this script), logs to LOGS/<name>.log, and its pid and
# executable are recorded in RUN/<name>.pid so stop ends exactly the processes this script started.

pid_of() {
  # Prints the pid of a running component started by this script, or fails.
  local file="$RUN/$1.pid" pid exe
  [[ -f "$file" ]] || return 1
  read -r pid exe <"$file" || return 1
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]] || return 1
  echo "$pid"
}

# alive NAME: the process recorded for NAME still runs, whatever it executes yet. Right after `launch` the recorded pid
# may still be the forked shell or setsid, not the component (pid_of then fails): that is starting, not dead.
alive() {
  local pid rest state
  read -r pid rest <"$RUN/$1.pid" 2>/dev/null || return 1
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z ]]
}

launch() {
  local name="$1"
  shift
  setsid "$BIN/$name" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  printf '%s %s\n' "$!" "$BIN/$name" >"$RUN/$name.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; fails naming NAME's log.
wait_for() {
  local name="$1" seconds="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    if ! alive "$name"; then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      die "$name exited during start; see $LOGS/$name.log"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOGS/$name.log" >&2 || true
      die "$name was not ready within $seconds s; see $LOGS/$name.log"
    fi
    sleep 0.1
  done
}

healthy() {
  # healthy PORT PATH: the component's HTTPS health endpoint answers ok.
  [[ "$(curl -sk --max-time 2 "https://127.0.0.1:$1$2" 2>/dev/null)" == "ok" ]]
}

api() {
  # api METHOD PATH [JSON]: a request to the API server as the admin.
  local method="$1" path="$2"
  shift 2
  # Not curl's own user agent: the API server pretty-prints JSON for curl, and names the field manager after it.
  curl -s --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" -X "$method" \
    -A bluegreen-cluster-script -H 'Content-Type: application/json' "$APISERVER_URL$path" "$@"
}

apiserver_ready() { [[ "$(curl -s --max-time 2 --cacert "$PKI/ca.crt" "$APISERVER_URL/readyz" 2>/dev/null)" == "ok" ]]; }

FAKE_NODES=(kwok-node-0 kwok-node-1)

create_nodes() {
  local node code
  for node in "${FAKE_NODES[@]}"; do
    # 201 created, 409 already there from an earlier start.
    code="$(api POST /api/v1/nodes -o /dev/null -w '%{http_code}' -d "{
      \"apiVersion\": \"v1\", \"kind\": \"Node\",
      \"metadata\": {
        \"name\": \"$node\",
        \"annotations\": {\"kwok.x-k8s.io/node\": \"fake\", \"node.alpha.kubernetes.io/ttl\": \"0\"},
        \"labels\": {\"kubernetes.io/hostname\": \"$node\", \"kubernetes.io/os\": \"linux\",
                     \"kubernetes.io/arch\": \"amd64\", \"type\": \"kwok\"}
      },
      \"status\": {
        \"allocatable\": {\"cpu\": \"32\", \"memory\": \"256Gi\", \"pods\": \"110\"},
        \"capacity\": {\"cpu\": \"32\", \"memory\": \"256Gi\", \"pods\": \"110\"}
      }
    }")"
    [[ "$code" == 201 || "$code" == 409 ]] || die "creating the fake node $node failed (HTTP $code)"
  done
}

nodes_ready() {
  local node
  for node in "${FAKE_NODES[@]}"; do
    api GET "/api/v1/nodes/$node" | grep -q '"type":"Ready","status":"True"' || return 1
  done
}

default_service_account() { [[ "$(api GET /api/v1/namespaces/default/serviceaccounts/default -o /dev/null -w '%{http_code}')" == 200 ]]; }

all_running() {
  local name
  for name in "${COMPONENTS[@]}"; do
    pid_of "$name" >/dev/null || return 1
  done
}

any_running() {
  local name
  for name in "${COMPONENTS[@]}"; do
    pid_of "$name" >/dev/null && return 0
  done
  return 1
}

# kwok hands pods addresses from 10.0.0.0/16 and Services get 10.96.0.0/16: nothing answers there (no kubelet), and
# the API server's service proxy would try to dial them. A blackhole route makes such a dial fail on this machine
# instead of leaving it (this machine's tests only ever send traffic to loopback). Needs root and iproute2; removed
# by `stop` when no other control plane runs.
FAKE_CIDRS=(10.0.0.0/16 10.96.0.0/16)
guard_fake_addresses() {
  command -v ip >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] || return 0
  local cidr
  for cidr in "${FAKE_CIDRS[@]}"; do
    if [[ "$1" == add ]]; then
      ip route replace blackhole "$cidr" 2>/dev/null || log "note: could not add a blackhole route for $cidr"
    else
      ip route del blackhole "$cidr" 2>/dev/null || true
    fi
  done
}

ports() { echo "$ETCD_PORT $ETCD_PEER_PORT $APISERVER_PORT $CONTROLLER_MANAGER_PORT $SCHEDULER_PORT $KWOK_PORT"; }

start() {
  local fresh=0 node=kwok
  while (($#)); do
    case "$1" in
      --fresh) fresh=1 ;;
      --node)
        node="${2:-}"
        [[ "$node" == kwok || "$node" == real ]] || {
          printf 'cluster: error: --node must be kwok or real, got "%s"\n' "$node" >&2
          exit 2
        }
        shift
        ;;
      *)
        printf 'cluster: error: unknown option "%s" for start; allowed: --fresh, --node kwok|real\n' "$1" >&2
        exit 2
        ;;
    esac
    shift
  done
  build
  local running_node=kwok
  node_mode && running_node=real
  if [[ "$node" != "$running_node" ]] && any_running; then
    log "running with the $running_node node; restarting with the $node node"
    stop
  fi
  if [[ "$node" == real ]]; then
    node_check_host
    COMPONENTS=("${CONTROL_PLANE[@]}" "${NODE_COMPONENTS[@]}")
    SERVICE_CIDR="$NODE_SERVICE_CIDR"
  else
    COMPONENTS=("${CONTROL_PLANE[@]}" kwok)
    SERVICE_CIDR=10.96.0.0/16
  fi
  if ((fresh == 0)) && all_running && [[ -f "$PKI/complete" ]] && apiserver_ready; then
    log "already running: $APISERVER_URL"
    echo "$KUBECONFIG_PATH"
    return 0
  fi
  if any_running; then
    log "some components are not running: restarting all"
    stop
  fi
  if ((fresh == 1)); then
    log "removing the cluster's data in $DIR"
    rm -rf "$DIR"
  fi
  local port
  for port in $(ports); do
    ! port_open "$port" || die "port $port on 127.0.0.1 is in use by another program; stop it or set BLUEGREEN_CLUSTER_PORT_OFFSET"
  done
  mkdir -p "$RUN" "$LOGS" "$DIR/etcd"
  [[ "$node" == real ]] && echo real >"$RUN/node-mode"
  certificates
  local started=$SECONDS
  # A start that fails half-way leaves nothing running.
  trap 'log "start failed: stopping what was started"; stop' EXIT

  launch etcd --name bluegreen-test --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "bluegreen-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --quota-backend-bytes 1073741824 --log-level warn
  wait_for etcd 30 eval '[[ "$(curl -s --max-time 2 "http://127.0.0.1:$ETCD_PORT/health")" == *"\"health\":\"true\""* ]]'

  guard_fake_addresses add
  launch kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
    --service-account-key-file "$PKI/service-account.pub" \
    --service-account-signing-key-file "$PKI/service-account.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode RBAC --allow-privileged \
    --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --endpoint-reconciler-type none --profiling=false --cert-dir "$RUN/apiserver-certs"
  wait_for kube-apiserver 60 apiserver_ready

  launch kube-controller-manager --kubeconfig "$RUN/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$RUN/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$RUN/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CONTROLLER_MANAGER_PORT" --cert-dir "$RUN/controller-manager-certs" \
    --service-account-private-key-file "$PKI/service-account.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials --service-cluster-ip-range "$SERVICE_CIDR" \
    --flex-volume-plugin-dir "$DIR/volume-plugins" \
    --leader-elect=false --profiling=false
  launch kube-scheduler --kubeconfig "$RUN/scheduler.kubeconfig" \
    --authentication-kubeconfig "$RUN/scheduler.kubeconfig" --authorization-kubeconfig "$RUN/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --cert-dir "$RUN/scheduler-certs" \
    --leader-elect=false --profiling=false
  if [[ "$node" == kwok ]]; then
    launch kwok --kubeconfig "$RUN/kwok.kubeconfig" --config "$SRC/kwok.yaml" \
      --server-address "127.0.0.1:$KWOK_PORT"
  fi
  wait_for kube-controller-manager 60 healthy "$CONTROLLER_MANAGER_PORT" /healthz
  wait_for kube-scheduler 60 healthy "$SCHEDULER_PORT" /healthz
  local nodes
  if [[ "$node" == kwok ]]; then
    wait_for kwok 60 eval '[[ "$(curl -s --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz")" == ok ]]'
    create_nodes
    wait_for kwok 60 nodes_ready
    nodes="${FAKE_NODES[*]}"
  else
    node_start
    nodes="$NODE_NAME (real: pods $NODE_POD_CIDR, Services $NODE_SERVICE_CIDR, netns $NODE_NETNS)"
  fi
  # Pods cannot be created in a namespace before its default service account exists.
  wait_for kube-controller-manager 60 default_service_account
  trap - EXIT
  log "ready in $((SECONDS - started)) s: $APISERVER_URL (nodes: $nodes); stop with: npm run cluster -- stop"
  echo "$KUBECONFIG_PATH"
}

# terminate NAME...: SIGTERM to those components at once, then waits for them (SIGKILL after 15 s).
terminate() {
  local name pid deadline pids=() names=() i
  for name in "$@"; do
    if pid="$(pid_of "$name")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
    rm -f "$RUN/$name.pid"
  done
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    deadline=$((SECONDS + 15))
    while [[ -d "/proc/$pid" ]] && ((SECONDS < deadline)); do sleep 0.05; done
    if [[ -d "/proc/$pid" ]]; then
      log "${names[$i]} (pid $pid) did not stop within 15 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while [[ -d "/proc/$pid" ]]; do sleep 0.05; done
    fi
  done
  stopped=$((stopped + ${#pids[@]}))
}

stop() {
  local stopped=0 port deadline
  # The node first (its pods, then what talks to the API server), then the API server, then its storage.
  if node_mode; then
    node_stop
  fi
  terminate kwok kube-scheduler kube-controller-manager
  terminate kube-apiserver
  terminate etcd
  for port in $(ports); do
    deadline=$((SECONDS + 10))
    while port_open "$port"; do
      ((SECONDS < deadline)) || die "port $port on 127.0.0.1 is still in use after stop (not by a process this script started)"
      sleep 0.1
    done
  done
  pgrep -x kube-apiserver >/dev/null 2>&1 || guard_fake_addresses del
  log "stopped ($stopped processes)"
}

status() {
  local name pid running=0
  for name in "${COMPONENTS[@]}"; do
    if pid="$(pid_of "$name")"; then
      printf '%-24s running (pid %s)\n' "$name" "$pid"
      running=$((running + 1))
    else
      printf '%-24s stopped\n' "$name"
    fi
  done
  if ((running == 0)); then
    printf 'cluster stopped\n'
    return 3
  fi
  if ((running == ${#COMPONENTS[@]})) && apiserver_ready; then
    printf 'cluster ready at %s\n%s\n' "$APISERVER_URL" "$KUBECONFIG_PATH"
    return 0
  fi
  printf 'cluster degraded (see %s); restart with: npm run cluster -- start\n' "$LOGS"
  return 1
}

command="${1:-}"
shift || true
case "$command" in
  build)
    (($# == 0)) || {
      printf 'cluster: error: build takes no options\n' >&2
      exit 2
    }
    build
    ;;
  start) start "$@" ;;
  stop) stop ;;
  status) status ;;
  tag) node_tag "$@" ;;
  namespace)
    # The project ships no kubectl: this is how its own cluster gets a stack's namespace.
    (($# == 1)) && [[ "$1" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || {
      printf 'cluster: error: namespace takes one Kubernetes name (lowercase DNS label), got "%s"\n' "$*" >&2
      exit 2
    }
    code="$(api POST /api/v1/namespaces -o /dev/null -w '%{http_code}' \
      -d "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"$1\"}}")"
    case "$code" in
      201) log "created namespace $1" ;;
      409) log "namespace $1 already exists" ;;
      *) die "creating namespace $1 failed (HTTP $code); is the cluster running? npm run cluster -- status" ;;
    esac
    ;;
  info)
    printf 'NODE_NETNS=%s\nNODE_HOST_VETH=%s\nNODE_BRIDGE=%s\nNODE_POD_CIDR=%s\nNODE_SERVICE_CIDR=%s\n' \
      "$NODE_NETNS" "$NODE_HOST_VETH" "$NODE_BRIDGE" "$NODE_POD_CIDR" "$NODE_SERVICE_CIDR"
    printf 'NODE_CGROUP_ROOT=%s\nNODE_DIR=%s\nCONTAINERD_SOCK=%s\nDEMO_IMAGE=%s\n' \
      "$NODE_CGROUP_ROOT" "$NODE_DIR" "$CONTAINERD_SOCK" "$DEMO_IMAGE"
    ;;
  *)
    printf 'usage: bash scripts/cluster.sh build | start [--fresh] [--node kwok|real] | status | stop | tag REF... | namespace NAME | info\n' >&2
    exit 2
    ;;
esac

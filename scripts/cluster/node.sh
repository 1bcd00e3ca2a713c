# shellcheck shell=bash
# The real node of scripts/cluster.sh (`start --node real`), sourced by it: containerd (Debian's), runc, the CNI
# bridge + host-local + portmap plugins, and kubelet and kube-proxy built from the same k8s.io/kubernetes module as
# the control plane.
#
# Isolation: containerd, kubelet and kube-proxy run in a network namespace of their own (NODE_NETNS), joined to the
# host by one veth pair. The pod bridge, the pods' veths, kube-proxy's and kubelet's iptables rules and the CNI
# plugins' sysctls all live in that namespace, so two clusters on one machine never share a table or a device, and
# deleting the namespace removes them all. The host gets the veth's end and two routes (pods, Services) through it.
# kubelet and kube-proxy reach the API server through a socat relay bound to the host's veth address only.
#
# Names, subnets and the cgroup root derive from the cluster directory (NODE_ID), so each cluster directory gets its
# own; `start` refuses when the host already routes one of the subnets.

NODE_NAME=real-node
NODE_ID="$(printf '%s' "$DIR" | sha256sum | cut -c1-6)"
# 20..219: the third octet of this cluster's subnets.
NODE_OCTET=$((16#${NODE_ID:0:4} % 200 + 20))
NODE_NETNS="bluegreen-$NODE_ID"
NODE_HOST_VETH="bgh$NODE_ID"
NODE_VETH="bgn$NODE_ID"
NODE_BRIDGE="bgb$NODE_ID"
NODE_POD_CIDR="10.200.$NODE_OCTET.0/24"
NODE_SERVICE_CIDR="10.201.$NODE_OCTET.0/24"
NODE_HOST_IP="10.202.$NODE_OCTET.1"
NODE_IP="10.202.$NODE_OCTET.2"
NODE_CGROUP_ROOT="/bluegreen-$NODE_ID"
NODE_KUBELET_PORT=10250
NODE_DIR="$DIR/node"
CONTAINERD_SOCK="$RUN/containerd.sock"
NODE_COMPONENTS=(containerd kubelet kube-proxy api-relay)
# Paths on the host that kubelet, containerd and `ip netns` create whatever they are told (constants in their code).
# The first start records which of them were absent; stop removes those when no other node runs.
# (/run/mount: util-linux's umount keeps its utab there.)
NODE_HOST_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /var/lib/cni /run/netns
  /run/mount /usr/libexec/kubernetes /opt/containerd /etc/kubernetes)
# kubelet sets these kernel sysctls on start; stop puts back the values it found.
NODE_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory)
IMAGE_CACHE="$CACHE_ROOT/images"
DEMO_IMAGE=bluegreen.local/demo
PAUSE_IMAGE=bluegreen.local/pause:1

node_mode() { [[ "$(cat "$RUN/node-mode" 2>/dev/null)" == real ]]; }

node_check_host() {
  [[ $(id -u) -eq 0 ]] || die "the real node needs root (network namespaces, cgroups, mounts)"
  local tool
  for tool in containerd runc ip nsenter socat iptables umoci skopeo; do
    command -v "$tool" >/dev/null 2>&1 || die "the real node needs $tool: run bash scripts/install-system-deps.sh"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/portmap ]] ||
    die "the real node needs the CNI plugins in /usr/lib/cni: run bash scripts/install-system-deps.sh"
  local cidr
  for cidr in "$NODE_POD_CIDR" "$NODE_SERVICE_CIDR" "10.202.$NODE_OCTET.0/30"; do
    if [[ -n "$(ip route show "$cidr" 2>/dev/null)" ]] && ! ip link show "$NODE_HOST_VETH" >/dev/null 2>&1; then
      die "the host already routes $cidr (another program's network); this cluster directory's node needs it"
    fi
  done
}

# Host state the node may change, recorded once per cluster directory (a restart must not record the node's own).
node_record_host() {
  if [[ ! -f "$RUN/host-paths-absent" ]]; then
    local path
    for path in "${NODE_HOST_PATHS[@]}"; do
      [[ -e "$path" ]] || echo "$path"
    done >"$RUN/host-paths-absent.tmp"
    mv -f "$RUN/host-paths-absent.tmp" "$RUN/host-paths-absent"
  fi
  if [[ ! -f "$RUN/host-sysctls" ]]; then
    local key
    for key in "${NODE_SYSCTLS[@]}"; do
      printf '%s=%s\n' "$key" "$(sysctl -n "$key")"
    done >"$RUN/host-sysctls.tmp"
    mv -f "$RUN/host-sysctls.tmp" "$RUN/host-sysctls"
  fi
}

in_node() { nsenter --net="/run/netns/$NODE_NETNS" -- "$@"; }

node_network_up() {
  ip netns add "$NODE_NETNS"
  ip link add "$NODE_HOST_VETH" type veth peer name "$NODE_VETH" netns "$NODE_NETNS"
  ip addr add "$NODE_HOST_IP/30" dev "$NODE_HOST_VETH"
  ip link set "$NODE_HOST_VETH" up
  in_node ip link set lo up
  in_node ip addr add "$NODE_IP/30" dev "$NODE_VETH"
  in_node ip link set "$NODE_VETH" up
  in_node ip route add default via "$NODE_HOST_IP"
  # Pods and Services are reached from the host through the node; nothing else is routed there.
  ip route add "$NODE_POD_CIDR" via "$NODE_IP" dev "$NODE_HOST_VETH"
  ip route add "$NODE_SERVICE_CIDR" via "$NODE_IP" dev "$NODE_HOST_VETH"
  # Per network namespace: the node forwards between its veth and the pod bridge; the host's setting is untouched.
  in_node sysctl -qw net.ipv4.ip_forward=1
}

node_certificates() {
  [[ -f "$PKI/node-complete" ]] && return 0
  client_cert kubelet "/O=system:masters/CN=system:node:$NODE_NAME"
  client_cert kube-proxy "/CN=system:kube-proxy"
  sign kubelet-serving "/CN=$NODE_NAME" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
  date -u +%FT%TZ >"$PKI/node-complete"
}

# A kubeconfig that reaches the API server through the relay on the host's veth address; the serving certificate
# names localhost, not that address.
node_kubeconfig() {
  local file="$1" cert="$2"
  cat >"$file.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: bluegreen-test
    cluster:
      server: https://$NODE_HOST_IP:$APISERVER_PORT
      tls-server-name: localhost
      certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
  - name: $cert
    user:
      client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
      client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
  - name: bluegreen-test
    context: {cluster: bluegreen-test, user: $cert}
current-context: bluegreen-test
KUBECONFIG
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

node_configs() {
  mkdir -p "$NODE_DIR/containerd/root" "$NODE_DIR/containerd/state" "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam" \
    "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs" "$NODE_DIR/volume-plugins" "$NODE_DIR/opt"
  node_kubeconfig "$RUN/kubelet.kubeconfig" kubelet
  node_kubeconfig "$RUN/kube-proxy.kubeconfig" kube-proxy
  cat >"$RUN/containerd.toml" <<TOML
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root lacks CAP_SYS_RESOURCE on some VMs: runc then cannot lower oom_score_adj and every sandbox fails.
  restrict_oom_score_adj = true
  # Pod network namespaces under this cluster's directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$RUN/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
TOML
  cat >"$NODE_DIR/cni/net.d/10-bluegreen.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "bluegreen-$NODE_ID",
  "plugins": [
    {
      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  cat >"$RUN/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This VM has cgroup v1 only.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $NODE_CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
port: $NODE_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
failSwapOn: false
# Imported images have no registry to come back from: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
podLogsDir: $NODE_DIR/pod-logs
resolvConf: ""
serializeImagePulls: false
YAML
  cat >"$RUN/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $RUN/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $NODE_POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_IP/32"]
iptables: {localhostNodePorts: false}
# 0: leave the kernel's conntrack settings alone (they are the host's, not the namespace's).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}

node_cgroups_up() {
  local controller
  for controller in /sys/fs/cgroup/*/; do
    [[ -d "$controller" && ! -L "${controller%/}" ]] || continue
    mkdir -p "$controller${NODE_CGROUP_ROOT#/}"
    if [[ -f "${controller}cpuset.cpus" ]]; then
      # A new cpuset cgroup starts with no CPUs and no memory nodes: nothing could run in it.
      cat "${controller}cpuset.cpus" >"$controller${NODE_CGROUP_ROOT#/}/cpuset.cpus"
      cat "${controller}cpuset.mems" >"$controller${NODE_CGROUP_ROOT#/}/cpuset.mems"
    fi
  done
}

# launch_node NAME EXECUTABLE ARGS...: like `launch`, inside the node's network namespace.
launch_node() {
  local name="$1" exe="$2"
  shift 2
  setsid nsenter --net="/run/netns/$NODE_NETNS" -- "$exe" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  printf '%s %s\n' "$!" "$exe" >"$RUN/$name.pid"
}

ctr_node() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# The images the node runs, built without a registry (umoci + skopeo) and cached by the hash of what goes in; each
# is imported once per containerd store.
node_images() {
  local node_bin
  node_bin="$(bash "$ROOT/scripts/node.sh")/node"
  [[ -x "$node_bin" ]] || die "the demo app's image needs Node.js: bash scripts/node.sh found none"
  local pause_hash demo_hash
  pause_hash="$(sha256sum <"$BIN/pause" | cut -c1-16)"
  demo_hash="$({
    sha256sum <"$node_bin"
    cat "$ROOT"/app/*.ts "$ROOT/scripts/cluster/image.sh"
  } | sha256sum | cut -c1-16)"
  mkdir -p "$IMAGE_CACHE"
  local archive
  archive="$IMAGE_CACHE/pause-$pause_hash.tar"
  [[ -f "$archive" ]] || bash "$ROOT/scripts/cluster/image.sh" pause "$BIN/pause" "$PAUSE_IMAGE" "$archive"
  node_import pause "$archive"
  archive="$IMAGE_CACHE/demo-$demo_hash.tar"
  [[ -f "$archive" ]] || bash "$ROOT/scripts/cluster/image.sh" demo "$node_bin" "$DEMO_IMAGE:latest" "$archive"
  node_import demo "$archive"
}

node_import() {
  local name="$1" archive="$2" marker
  marker="$NODE_DIR/containerd/imported-$name-$(basename "$archive")"
  [[ -f "$marker" ]] && return 0
  ctr_node images import --no-unpack=false "$archive" >>"$LOGS/images.log" 2>&1 ||
    die "importing $archive into the node's containerd failed; see $LOGS/images.log"
  rm -f "$NODE_DIR/containerd/imported-$name-"* && touch "$marker"
}

# node_tag REF...: the demo app's image under more names (the stack's image:version); Pods use imagePullPolicy Never.
node_tag() {
  node_mode && pid_of containerd >/dev/null || die "tag needs a running real node (start --node real)"
  local ref
  for ref in "$@"; do
    [[ "$ref" == *:* ]] || die "tag: \"$ref\" has no :tag; give IMAGE:TAG"
    ctr_node images tag --force "$DEMO_IMAGE:latest" "$ref" >/dev/null || die "tagging $ref failed"
  done
}

node_ready() { api GET "/api/v1/nodes/$NODE_NAME" | grep -q '"type":"Ready","status":"True"'; }

node_start() {
  node_check_host
  node_record_host
  node_certificates
  node_configs
  ip netns list 2>/dev/null | grep -qw "$NODE_NETNS" || node_network_up
  node_cgroups_up
  setsid socat "TCP-LISTEN:$APISERVER_PORT,bind=$NODE_HOST_IP,fork,reuseaddr" "TCP:127.0.0.1:$APISERVER_PORT" \
    >>"$LOGS/api-relay.log" 2>&1 </dev/null &
  printf '%s %s\n' "$!" "$(command -v socat)" >"$RUN/api-relay.pid"
  launch_node containerd "$(command -v containerd)" --config "$RUN/containerd.toml"
  wait_for containerd 30 eval 'ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1'
  node_images
  launch_node kubelet "$BIN/kubelet" --config "$RUN/kubelet.yaml" --kubeconfig "$RUN/kubelet.kubeconfig" \
    --root-dir "$NODE_DIR/kubelet" --cert-dir "$NODE_DIR/kubelet/pki" --volume-plugin-dir "$NODE_DIR/volume-plugins" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  launch_node kube-proxy "$BIN/kube-proxy" --config "$RUN/kube-proxy.yaml"
  wait_for kubelet 90 node_ready
}

# Every process in the node's cgroups (the pods' containers), killed until none is left.
node_kill_cgroups() {
  local deadline=$((SECONDS + 15)) procs
  while :; do
    procs="$(cat /sys/fs/cgroup/*/"${NODE_CGROUP_ROOT#/}"/**/cgroup.procs \
      /sys/fs/cgroup/*/"${NODE_CGROUP_ROOT#/}"/cgroup.procs </dev/null 2>/dev/null | sort -u | tr '\n' ' ' || true)"
    # (`|| true`: a pod's cgroup the kubelet removes between the glob and the read fails cat, and with pipefail
    # and set -e that ended `stop` silently with exit 1.)
    [[ -z "${procs// /}" ]] && return 0
    # shellcheck disable=SC2086
    kill -KILL $procs 2>/dev/null || true
    ((SECONDS < deadline)) || die "processes $procs in the node's cgroups did not exit"
    sleep 0.1
  done
}

# The runc shims this cluster's containerd started: they name its socket on their command line.
node_shim_pids() {
  local proc
  for proc in /proc/[0-9]*; do
    { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -qF -- "-address $CONTAINERD_SOCK " && echo "${proc#/proc/}"
  done
  return 0
}

node_stop() {
  local pid
  shopt -s globstar nullglob
  # socat forks one child per relayed connection, in its own process group (it was started with setsid).
  local relay
  if relay="$(pid_of api-relay)"; then kill -TERM -- "-$relay" 2>/dev/null || true; fi
  terminate kube-proxy kubelet api-relay
  node_kill_cgroups
  for pid in $(node_shim_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  terminate containerd
  # Mounts the node made under the cluster directory: container root file systems, pod network namespaces, volumes.
  local mount
  while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || log "note: could not unmount $mount"
  done < <(findmnt -rn -o TARGET | grep -F "$DIR/" | sort -r)
  local dir
  for dir in /sys/fs/cgroup/*/"${NODE_CGROUP_ROOT#/}"; do
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || log "note: could not remove the cgroup $dir"
  done
  # Takes the pod bridge, every veth, the node's iptables rules and its routes with it.
  ip netns del "$NODE_NETNS" 2>/dev/null || true
  shopt -u globstar nullglob
  # The host as it was, unless another node (another cluster's kubelet or containerd) still runs.
  if ! pgrep -x kubelet >/dev/null 2>&1 && ! pgrep -x containerd >/dev/null 2>&1; then
    local path key value
    if [[ -f "$RUN/host-paths-absent" ]]; then
      while read -r path; do
        [[ -n "$path" && -e "$path" ]] || continue
        if [[ "$path" == /run/netns ]]; then
          [[ -z "$(ls -A /run/netns)" ]] || continue
          umount /run/netns 2>/dev/null || true
        fi
        rm -rf "$path" 2>/dev/null || log "note: could not remove $path (still in use?)"
      done <"$RUN/host-paths-absent"
      rm -f "$RUN/host-paths-absent"
    fi
    if [[ -f "$RUN/host-sysctls" ]]; then
      while IFS='=' read -r key value; do
        sysctl -qw "$key=$value" || log "note: could not restore $key=$value"
      done <"$RUN/host-sysctls"
      rm -f "$RUN/host-sysctls"
    fi
  fi
  rm -f "$RUN/node-mode"
}

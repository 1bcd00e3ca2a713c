#!/usr/bin/env bash
# A real S3-compatible object store on this machine, for the `s3://` Pulumi backend and the release state kept in it
# (components/core/state-store/s3.ts): SeaweedFS (Apache-2.0) built from Go modules, one `weed server` process
# running its master, volume server, filer and S3 gateway. Everything listens on 127.0.0.1 only.
#
#   bash scripts/s3.sh build    build `weed` into the cache (once per version; resumable)
#   bash scripts/s3.sh start    build if needed, start (or keep) the server, create the bucket, wait until it answers;
#                               the last line printed is the Pulumi backend URL. --fresh wipes the store's data first.
#   bash scripts/s3.sh status   exit 0 when the server runs and answers, 3 when stopped, 1 when it runs but does not
#                               answer
#   bash scripts/s3.sh stop     stop the server this script started; no process, port or socket is left
#   bash scripts/s3.sh env      print `export` lines for the AWS SDKs and the Pulumi CLI (the server may not run):
#                               eval "$(bash scripts/s3.sh env)"
#
# Also `npm run s3 -- <command>`. Progress goes to stderr.
#
# Binary: ${XDG_CACHE_HOME:-~/.cache}/bluegreen/s3/seaweedfs-<commit>-<hash of scripts/s3>/bin/weed (override the root
# with BLUEGREEN_S3_CACHE), built into a temporary name and renamed when complete. Only the Go module proxy is used
# (GOTOOLCHAIN=local). Data, config, log and pid file: $BLUEGREEN_S3_DIR (default $BLUEGREEN_STATE_DIR/s3, and
# BLUEGREEN_STATE_DIR defaults to .state in the checkout).
#
# Ports (127.0.0.1): S3 34700, and SeaweedFS's own services 34701-34707 (S3 gRPC, master HTTP/gRPC, volume
# HTTP/gRPC, filer HTTP/gRPC). Set BLUEGREEN_S3_PORT_OFFSET=N to shift them all by N.
# Credentials: a static key pair, DEMO AND TESTS ONLY (the server is reachable from this machine only).
#
# Exit codes: 0 done, 1 failed (the message says why and names the log), 2 bad usage, 3 (status) stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/s3"
log() { printf 's3: %s\n' "$*" >&2; }
die() {
  printf 's3: error: %s\n' "$*" >&2
  exit 1
}

# The module proxy serves SeaweedFS only as a pseudo-version of this commit (4.53); scripts/s3/go.mod pins it.
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
SEAWEEDFS_COMMIT="${SEAWEEDFS_VERSION##*-}"
SOURCE_HASH="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/tools.go" | sha256sum | cut -c1-12)"
CACHE_ROOT="${BLUEGREEN_S3_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen/s3}"
CACHE="$CACHE_ROOT/seaweedfs-$SEAWEEDFS_COMMIT-$SOURCE_HASH"
BIN="$CACHE/bin"
WEED="$BIN/weed"

STATE_DIR="${BLUEGREEN_STATE_DIR:-$ROOT/.state}"
DIR="${BLUEGREEN_S3_DIR:-$STATE_DIR/s3}"
DATA="$DIR/data"
RUN="$DIR/run"
LOGFILE="$DIR/weed.log"
PIDFILE="$RUN/weed.pid"
OFFSET="${BLUEGREEN_S3_PORT_OFFSET:-0}"
[[ "$OFFSET" =~ ^[0-9]+$ ]] || {
  printf 's3: error: BLUEGREEN_S3_PORT_OFFSET must be a whole number, got "%s"\n' "$OFFSET" >&2
  exit 2
}
S3_PORT=$((34700 + OFFSET))
S3_GRPC_PORT=$((34701 + OFFSET))
MASTER_PORT=$((34702 + OFFSET))
MASTER_GRPC_PORT=$((34703 + OFFSET))
VOLUME_PORT=$((34704 + OFFSET))
VOLUME_GRPC_PORT=$((34705 + OFFSET))
FILER_PORT=$((34706 + OFFSET))
FILER_GRPC_PORT=$((34707 + OFFSET))
ENDPOINT="http://127.0.0.1:$S3_PORT"
BUCKET=bluegreen-state
REGION=us-east-1
# DEMO AND TESTS ONLY: a fixed key pair, so tests and other processes on this machine share one store unattended.
ACCESS_KEY=bluegreen-local
SECRET_KEY=bluegreen-local-secret-demo-only
# The form the Pulumi CLI's s3 backend (gocloud.dev s3blob over AWS SDK v2) takes for a custom endpoint: an explicit
# http:// endpoint means plain HTTP; path-style addressing because the endpoint is an address, not a bucket domain.
# response_checksum_validation=when_required: SeaweedFS sends no response checksums, and the SDK would warn on every read.
BACKEND_URL="s3://$BUCKET?endpoint=http://127.0.0.1:$S3_PORT&use_path_style=true&region=$REGION"
BACKEND_URL+="&response_checksum_validation=when_required"

ports() {
  echo "$S3_PORT $S3_GRPC_PORT $MASTER_PORT $MASTER_GRPC_PORT $VOLUME_PORT $VOLUME_GRPC_PORT" \
    "$FILER_PORT $FILER_GRPC_PORT"
}

# ---------------------------------------------------------------------------------------------------------------
# build

build() {
  if [[ -x "$WEED" && -f "$CACHE/complete" ]]; then
    log "cached binary: $WEED"
    return 0
  fi
  command -v go >/dev/null 2>&1 ||
    die "building the object store needs Go 1.26 or newer (https://go.dev/dl/, or your distribution's golang package)"
  command -v flock >/dev/null 2>&1 || die "building the object store needs flock (util-linux)"
  mkdir -p "$BIN"
  # One build at a time per cache: a second run (another terminal, CI and a test at once) waits, then finds the result.
  exec 8>"$CACHE_ROOT/.build.lock"
  if ! flock -n 8; then
    log "another build is running in $CACHE_ROOT: waiting for it"
    flock 8
  fi
  if [[ -x "$WEED" && -f "$CACHE/complete" ]]; then
    exec 8>&-
    log "cached binary: $WEED"
    return 0
  fi
  # Builds never reach beyond the module proxy; GOTOOLCHAIN=local stops go from fetching another Go release.
  # -mod=readonly: the committed go.mod/go.sum are the pin; a build never rewrites them. CGO off: nothing the S3 server
  # uses needs it, and the binary then runs on any Linux of this architecture.
  export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
  local started=$SECONDS
  log "building SeaweedFS weed $SEAWEEDFS_VERSION (about 6 minutes on 2 idle cores the first time)"
  rm -f "$BIN/.weed.tmp"
  local ldflags="-s -w -X github.com/seaweedfs/seaweedfs/weed/util/version.COMMIT=$SEAWEEDFS_COMMIT"
  (cd "$SRC" && go build -trimpath -ldflags "$ldflags" -o "$BIN/.weed.tmp" github.com/seaweedfs/seaweedfs/weed) &
  local builder=$!
  # A line every 30 s, so a CI log shows the build is alive.
  while ! wait_quietly "$builder" 30; do
    log "still building weed ($((SECONDS - started)) s)"
  done
  wait "$builder" || die "go build failed for SeaweedFS weed (see above)"
  mv -f "$BIN/.weed.tmp" "$WEED"
  date -u +%FT%TZ >"$CACHE/complete"
  exec 8>&-
  log "SeaweedFS built in $((SECONDS - started)) s: $WEED"
}

# wait_quietly PID SECONDS: true when PID has ended within SECONDS (its status is collected later by `wait`).
wait_quietly() {
  local pid="$1" deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------------------------
# the server: one process in its own session (it outlives this script); its pid and executable are recorded in
# PIDFILE, so stop ends exactly the process this script started.

pid_of() {
  local pid exe
  [[ -f "$PIDFILE" ]] || return 1
  read -r pid exe <"$PIDFILE" || return 1
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$exe" ]] || return 1
  echo "$pid"
}

# alive: the recorded process still runs, whatever it executes yet (right after launch it may still be setsid).
alive() {
  local pid rest state
  read -r pid rest <"$PIDFILE" 2>/dev/null || return 1
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# s3 METHOD PATH: a request signed with the store's key (SigV4); prints the HTTP status.
s3() {
  local method=(-X "$1") path="$2"
  [[ "$1" == HEAD ]] && method=(-I)
  curl -s --max-time 5 -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$REGION:s3" \
    --user "$ACCESS_KEY:$SECRET_KEY" "${method[@]}" "$ENDPOINT$path" 2>/dev/null
}

answers() { [[ "$(s3 GET /)" == 200 ]]; }
bucket_ready() { [[ "$(s3 HEAD "/$BUCKET")" == 200 ]]; }

# SeaweedFS puts the unix sockets of its in-process gRPC services in /tmp, named by port, whatever is configured.
remove_sockets() {
  local name port
  for name in master:$MASTER_GRPC_PORT volume:$VOLUME_GRPC_PORT filer:$FILER_GRPC_PORT s3:$S3_GRPC_PORT; do
    port="${name#*:}"
    rm -f "/tmp/seaweedfs-${name%%:*}-grpc-$port.sock"
  done
}

write_config() {
  # The S3 gateway's identities: one admin key pair (buckets, objects, tags).
  umask 077
  cat >"$RUN/s3.json.tmp" <<JSON
{
  "identities": [
    {
      "name": "bluegreen",
      "credentials": [{ "accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY" }],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON
  mv -f "$RUN/s3.json.tmp" "$RUN/s3.json"
}

start() {
  local fresh=0
  case "${1:-}" in
    --fresh) fresh=1 ;;
    "") ;;
    *)
      printf 's3: error: unknown option "%s" for start; allowed: --fresh\n' "$1" >&2
      exit 2
      ;;
  esac
  command -v curl >/dev/null 2>&1 || die "start needs curl (apt-get install curl)"
  build
  if ((fresh == 0)) && pid_of >/dev/null && bucket_ready; then
    log "already running: $ENDPOINT (bucket $BUCKET)"
    echo "$BACKEND_URL"
    return 0
  fi
  if pid_of >/dev/null; then
    log "the server runs but does not answer: restarting it"
    stop
  fi
  if ((fresh == 1)); then
    log "removing the store's data in $DIR"
    rm -rf "$DIR"
  fi
  local port
  for port in $(ports); do
    ! port_open "$port" ||
      die "port $port on 127.0.0.1 is in use by another program; stop it or set BLUEGREEN_S3_PORT_OFFSET"
  done
  mkdir -p "$DATA" "$RUN"
  write_config
  remove_sockets
  local started_ns
  started_ns=$(date +%s%N)
  # A start that fails half-way leaves nothing running.
  trap 'log "start failed: stopping what was started"; stop' EXIT
  # No telemetry, no Iceberg/Lance catalogs, no IAM API, no metrics listener: only the S3 gateway and what it needs.
  # Small volumes: a test store holds kilobytes, and the default (30 GB per volume) refuses to start on a small disk.
  setsid "$WEED" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$DATA" -metricsPort=0 \
    -master.port="$MASTER_PORT" -master.port.grpc="$MASTER_GRPC_PORT" -master.telemetry=false \
    -master.volumeSizeLimitMB=64 -volume.max=32 \
    -volume.port="$VOLUME_PORT" -volume.port.grpc="$VOLUME_GRPC_PORT" -volume.preStopSeconds=0 \
    -filer -filer.port="$FILER_PORT" -filer.port.grpc="$FILER_GRPC_PORT" -filer.localSocket="$RUN/filer.sock" \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc="$S3_GRPC_PORT" -s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false \
    -s3.config="$RUN/s3.json" -s3.localSocket="$RUN/s3.sock" \
    >>"$LOGFILE" 2>&1 </dev/null &
  printf '%s %s\n' "$!" "$WEED" >"$PIDFILE"

  local deadline=$((SECONDS + 60)) code
  until answers; do
    if ! alive; then
      tail -n 20 "$LOGFILE" >&2 || true
      die "weed exited during start; see $LOGFILE"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOGFILE" >&2 || true
      die "the S3 gateway did not answer within 60 s; see $LOGFILE"
    fi
    sleep 0.1
  done
  # 200 created; 409 when an earlier start made it. Creating can fail while the filer is still settling: retry.
  code=none
  until bucket_ready; do
    ((SECONDS < deadline)) || die "creating the bucket $BUCKET failed (last answer: HTTP $code); see $LOGFILE"
    code="$(s3 PUT "/$BUCKET")"
    [[ "$code" == 200 || "$code" == 409 ]] || sleep 0.2
  done
  trap - EXIT
  local ms=$((($(date +%s%N) - started_ns) / 1000000))
  log "ready in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s: $ENDPOINT, bucket $BUCKET (key $ACCESS_KEY)"
  log "use it: eval \"\$(bash scripts/s3.sh env)\" && pulumi login \"\$PULUMI_BACKEND_URL\""
  log "stop it: bash scripts/s3.sh stop"
  echo "$BACKEND_URL"
}

stop() {
  local pid deadline port stopped=0
  if pid="$(pid_of)"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 15))
    while [[ -d "/proc/$pid" ]] && ((SECONDS < deadline)); do sleep 0.05; done
    if [[ -d "/proc/$pid" ]]; then
      log "weed (pid $pid) did not stop within 15 s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while [[ -d "/proc/$pid" ]]; do sleep 0.05; done
    fi
    stopped=1
  fi
  rm -f "$PIDFILE" "$RUN/filer.sock" "$RUN/s3.sock"
  remove_sockets
  for port in $(ports); do
    deadline=$((SECONDS + 10))
    while port_open "$port"; do
      ((SECONDS < deadline)) ||
        die "port $port on 127.0.0.1 is still in use after stop (not by a process this script started)"
      sleep 0.1
    done
  done
  log "stopped ($stopped process$( ((stopped == 1)) || echo es))"
}

status() {
  local pid
  if ! pid="$(pid_of)"; then
    printf 's3 stopped\n'
    return 3
  fi
  if bucket_ready; then
    printf 's3 ready at %s, bucket %s (pid %s)\n%s\n' "$ENDPOINT" "$BUCKET" "$pid" "$BACKEND_URL"
    return 0
  fi
  printf 's3 runs (pid %s) but does not answer (see %s); restart with: bash scripts/s3.sh start\n' "$pid" "$LOGFILE"
  return 1
}

print_env() {
  # Single quotes: the backend URL holds & and ?.
  printf "export AWS_ACCESS_KEY_ID='%s'\n" "$ACCESS_KEY"
  printf "export AWS_SECRET_ACCESS_KEY='%s'\n" "$SECRET_KEY"
  printf "export AWS_REGION='%s'\n" "$REGION"
  printf "export PULUMI_BACKEND_URL='%s'\n" "$BACKEND_URL"
}

command="${1:-}"
shift || true
case "$command" in
  build | stop | status | env)
    (($# == 0)) || {
      printf 's3: error: %s takes no options\n' "$command" >&2
      exit 2
    }
    case "$command" in
      build) build ;;
      stop) stop ;;
      status) status ;;
      env) print_env ;;
    esac
    ;;
  start) start "$@" ;;
  *)
    printf 'usage: bash scripts/s3.sh build | start [--fresh] | status | stop | env\n' >&2
    exit 2
    ;;
esac

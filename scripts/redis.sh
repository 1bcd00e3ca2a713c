#!/usr/bin/env bash
# A real Redis (Debian's redis-server) for the demo service's shared sessions: listens on 127.0.0.1 only, keeps its
# data in memory (sessions survive a blue-green switch, not a Redis restart: DEMO ONLY, no password).
#
#   bash scripts/redis.sh start    start (or keep) the server; the last line printed is the URL
#   bash scripts/redis.sh status   exit 0 and the URL when the server answers PING; exit 1 otherwise
#   bash scripts/redis.sh stop     stop the server this folder's pid file names; no process is left
#   bash scripts/redis.sh url      print the URL (the server may not run)
#
# Folder: $BLUEGREEN_REDIS_DIR (default $BLUEGREEN_STATE_DIR/redis; BLUEGREEN_STATE_DIR defaults to .state).
# Port: $BLUEGREEN_REDIS_PORT (default 35679).
# Exit codes: 0 done, 1 failed (the message says why and names the log), 2 bad usage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'redis: %s\n' "$*" >&2; }
die() {
  printf 'redis: error: %s\n' "$*" >&2
  exit 1
}

STATE_DIR="${BLUEGREEN_STATE_DIR:-$ROOT/.state}"
DIR="${BLUEGREEN_REDIS_DIR:-$STATE_DIR/redis}"
PORT="${BLUEGREEN_REDIS_PORT:-35679}"
[[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1024 && "$PORT" -le 65535 ]] || {
  printf 'redis: error: BLUEGREEN_REDIS_PORT: got "%s"; allowed: a port from 1024 to 65535\n' "$PORT" >&2
  exit 2
}
PIDFILE="$DIR/redis.pid"
LOGFILE="$DIR/redis.log"
URL="redis://127.0.0.1:$PORT"

pid_alive() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

answers() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == "PONG" ]]
}

start() {
  command -v redis-server >/dev/null 2>&1 ||
    die "redis-server not found; install it: bash scripts/install-system-deps.sh (Debian: apt-get install redis-server)"
  mkdir -p "$DIR"
  if pid_alive && answers; then
    log "already running in $DIR"
  else
    log "starting on 127.0.0.1:$PORT"
    redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE" \
      --dir "$DIR" --save "" --appendonly no --protected-mode yes ||
      die "redis-server did not start; see $LOGFILE"
    local i
    for i in $(seq 1 50); do
      answers && break
      sleep 0.1
    done
    answers || die "redis-server does not answer on port $PORT; see $LOGFILE$(tail -3 "$LOGFILE" 2>/dev/null | sed 's/^/\n  /')"
  fi
  echo "$URL"
}

stop() {
  if pid_alive; then
    local pid i
    pid="$(cat "$PIDFILE")"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      log "killed $pid (did not stop on SIGTERM)"
    else
      log "stopped ($DIR)"
    fi
  else
    log "not running ($DIR)"
  fi
  rm -f "$PIDFILE"
}

status() {
  if pid_alive && answers; then
    echo "$URL"
    return 0
  fi
  log "not running ($DIR, port $PORT)"
  return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
url) echo "$URL" ;;
*)
  echo "usage: bash scripts/redis.sh start|stop|status|url" >&2
  exit 2
  ;;
esac

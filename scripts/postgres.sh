#!/usr/bin/env bash
# A real PostgreSQL (Debian's postgresql package) for the local demo and the stateful release tests: one cluster in a
# state folder, listening on 127.0.0.1 only, with a `bluegreen` role and database (trust auth on loopback: DEMO ONLY).
#
#   bash scripts/postgres.sh start    initdb if needed, start (or keep) the server; the last line printed is the URL
#   bash scripts/postgres.sh status   exit 0 and the URL when the server answers; exit 1 otherwise
#   bash scripts/postgres.sh stop     stop the server this folder holds (fast shutdown); no process is left
#   bash scripts/postgres.sh url      print the URL (the server may not run)
#
# Folder: $BLUEGREEN_POSTGRES_DIR (default $BLUEGREEN_STATE_DIR/postgres; BLUEGREEN_STATE_DIR defaults to .state).
# Port: $BLUEGREEN_POSTGRES_PORT (default 35432). PostgreSQL refuses to run as root: as root, the server runs as the
# `postgres` system user the Debian package creates, and the folder is handed to it.
# Exit codes: 0 done, 1 failed (the message says why and names the log), 2 bad usage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'postgres: %s\n' "$*" >&2; }
die() {
  printf 'postgres: error: %s\n' "$*" >&2
  exit 1
}

STATE_DIR="${BLUEGREEN_STATE_DIR:-$ROOT/.state}"
DIR="${BLUEGREEN_POSTGRES_DIR:-$STATE_DIR/postgres}"
PORT="${BLUEGREEN_POSTGRES_PORT:-35432}"
[[ "$PORT" =~ ^[0-9]+$ && "$PORT" -ge 1024 && "$PORT" -le 65535 ]] || {
  printf 'postgres: error: BLUEGREEN_POSTGRES_PORT: got "%s"; allowed: a port from 1024 to 65535\n' "$PORT" >&2
  exit 2
}
DATA="$DIR/data"
SOCKETS="$DIR/run"
LOGFILE="$DIR/postgres.log"
ROLE=bluegreen
DATABASE=bluegreen
URL="postgres://$ROLE@127.0.0.1:$PORT/$DATABASE"

# The server binaries of the newest installed major version (Debian keeps them outside PATH).
PGBIN=""
for d in /usr/lib/postgresql/*/bin; do
  [[ -x "$d/pg_ctl" ]] && PGBIN="$d"
done
if [[ -z "$PGBIN" ]]; then
  PGBIN="$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")"
fi

need_binaries() {
  [[ -x "$PGBIN/pg_ctl" && -x "$PGBIN/initdb" ]] ||
    die "PostgreSQL server binaries not found (pg_ctl, initdb); install them: bash scripts/install-system-deps.sh (Debian: apt-get install postgresql)"
  command -v psql >/dev/null 2>&1 || die "psql not found; install postgresql-client"
}

# Runs a server command as a non-root user: the postgres account when we are root, ourselves otherwise.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' user to run the server as"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f "$DATA/PG_VERSION" ]] && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

answers() {
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d "$DATABASE" -U "$ROLE" 2>/dev/null
}

start() {
  need_binaries
  mkdir -p "$DIR"
  if [[ $(id -u) -eq 0 ]]; then
    # Every folder above DIR must be traversable by the postgres user.
    as_owner test -x "$DIR" ||
      die "the postgres user cannot reach $DIR (a parent folder is not world-executable); set BLUEGREEN_POSTGRES_DIR to a folder under /tmp"
    chown postgres: "$DIR"
  fi
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb into $DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U "$ROLE" --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
      die "initdb failed; see $DIR/initdb.log"
  fi
  as_owner mkdir -p "$SOCKETS"
  if running; then
    log "already running in $DIR"
  else
    log "starting on 127.0.0.1:$PORT"
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 30 \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -k $SOCKETS -c fsync=off -c max_connections=200" start >/dev/null ||
      die "the server did not start; see $LOGFILE$(tail -3 "$LOGFILE" 2>/dev/null | sed 's/^/\n  /')"
  fi
  local i
  for i in $(seq 1 50); do
    psql -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -c "select 1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! psql -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -tAc "select 1 from pg_database where datname = '$DATABASE'" | grep -q 1; then
    psql -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -c "create database $DATABASE" >/dev/null ||
      die "cannot create database $DATABASE; see $LOGFILE"
  fi
  echo "$URL"
}

stop() {
  if [[ -f "$DATA/PG_VERSION" ]] && running; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null || die "pg_ctl stop failed; see $LOGFILE"
    log "stopped ($DIR)"
  else
    log "not running ($DIR)"
  fi
  if [[ -f "$DATA/postmaster.pid" ]]; then
    local pid
    pid="$(head -1 "$DATA/postmaster.pid")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      log "killed leftover postmaster $pid"
    fi
  fi
}

status() {
  if running && answers; then
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
  echo "usage: bash scripts/postgres.sh start|stop|status|url" >&2
  exit 2
  ;;
esac

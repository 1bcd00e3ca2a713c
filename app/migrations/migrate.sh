#!/usr/bin/env bash
# Applies the demo service's migrations for one version, as the release hooks call it:
#
#   bash app/migrations/migrate.sh expand <version> [--live <version>] [--no-live-check]
#                                                        before staging <version> (preStage hook)
#   bash app/migrations/migrate.sh contract <version>   after <version> baked and no older version takes traffic
#                                                        (postBake hook)
#
# <version> defaults to $BLUEGREEN_VERSION (set by the release tool for every hook). The SQL is
# app/migrations/<version>/<step>.sql; a version without one has nothing to do. Each file runs in one transaction
# with psql, and is recorded in the table schema_migrations, so running it twice (a resumed release) is a no-op.
# Before an expand is applied, it is tried in a transaction that is rolled back, followed by the queries of the live
# version (--live, default $BLUEGREEN_PREVIOUS_VERSION, which the release tool sets): an expand the live version
# could not run with (a dropped or renamed column it uses) is refused before it touches the schema. --no-live-check
# skips that (then only the release's verify - smoke checks of both versions - stands between it and the switch).
# Database: $DATABASE_URL (postgres://user@host:port/db; scripts/postgres.sh prints the demo's).
# Exit codes: 0 applied or nothing to do, 1 the SQL failed (nothing of it applied), 2 bad usage.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
step="${1:-}"
shift || true
version="${BLUEGREEN_VERSION:-}"
live="${BLUEGREEN_PREVIOUS_VERSION:-}"
live_check=1
if [[ $# -gt 0 && "$1" != --* ]]; then
  version="$1"
  shift
fi
while [[ $# -gt 0 ]]; do
  case "$1" in
  --live)
    live="${2:-}"
    shift 2 || true
    ;;
  --no-live-check)
    live_check=0
    shift
    ;;
  *)
    echo "migrate: unknown argument \"$1\"; allowed: --live <version>, --no-live-check" >&2
    exit 2
    ;;
  esac
done
if [[ "$step" != "expand" && "$step" != "contract" ]] || [[ -z "$version" ]]; then
  echo "usage: migrate.sh expand|contract <version>  (version defaults to \$BLUEGREEN_VERSION)" >&2
  exit 2
fi
if [[ ! "$version" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then
  echo "migrate: version: got \"$version\"; allowed: letters, digits, \".\", \"_\", \"-\"" >&2
  exit 2
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
  echo "migrate: DATABASE_URL is not set; allowed: postgres://user@host:port/db (bash scripts/postgres.sh start prints it)" >&2
  exit 2
fi
file="$DIR/$version/$step.sql"
if [[ ! -f "$file" ]]; then
  echo "migrate: no $step migration for $version"
  exit 0
fi
psql_() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }
psql_ -c "CREATE TABLE IF NOT EXISTS schema_migrations (version text NOT NULL, step text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (version, step))"
done_already="$(psql_ -tA -c "SELECT 1 FROM schema_migrations WHERE version = '$version' AND step = '$step'")"
if [[ "$done_already" == "1" ]]; then
  echo "migrate: $step $version already applied"
  exit 0
fi
if [[ "$step" == "expand" && "$live_check" == 1 && -n "$live" ]]; then
  # The queries of the live version, from the demo service's own code (app/db-notes.ts).
  probe="$(node -e 'require(process.argv[1] + "/../../runtime/load-ts").register(); process.stdout.write(require(process.argv[1] + "/../db-notes.ts").probeSql(process.argv[2]))' "$DIR" "$live")"
  if ! out="$({ echo "BEGIN;"; cat "$file"; echo; echo "$probe"; echo "ROLLBACK;"; } | psql_ -f - 2>&1 >/dev/null)"; then
    echo "migrate: refusing expand $version: the live version $live would fail against it (nothing was applied):" >&2
    echo "$out" | grep -v '^$' | sed 's/^/  /' >&2
    exit 1
  fi
  echo "migrate: expand $version checked against the queries of live $live"
fi
started=$(date +%s%3N)
# One transaction: the SQL and its record land together or not at all.
{
  cat "$file"
  printf "\nINSERT INTO schema_migrations (version, step) VALUES ('%s', '%s');\n" "$version" "$step"
} | psql_ --single-transaction -f -
echo "migrate: applied $step $version in $(($(date +%s%3N) - started))ms"

#!/usr/bin/env bash
# What the size of the schema costs each request (a benchmark command, not a
# test; see docs/PERFORMANCE.md "The schema floor").
#
# Spin opens a fresh SQLite connection per request, and SQLite parses the
# whole schema on a connection's first statement. This serves the cheapest
# SQLite route (GET /api/version: a rate-limit upsert and the telemetry
# insert) from databases that differ only in their schema:
#   full  - every table, index and trigger of the current migrations
#   half  - the first half of the tables, with their indexes and triggers
#   tiny  - only the two tables the route touches
# Each variant gets `rounds` fresh copies; prints requests/s and latency.
#
#   tests/host/bench-schema-floor.sh [rounds] [connections] [seconds]
#
# Needs the release bench (cargo build --release -p echopilot-e2e --bin
# bench), the release components, and the sqlite3 command-line shell.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
connections=${2:-32}
seconds=${3:-6}
bench=target/release/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A database with the full schema: let the app migrate one.
mkdir -p "$work/seed"
"$bench" --data-dir "$work/seed" --path /health --connections 1 --seconds 1 --warmup 0 >/dev/null 2>&1
sqlite3 "$work/seed/sqlite_db.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
version=$(sqlite3 "$work/seed/sqlite_db.db" "PRAGMA user_version;")

# Variants: the schema's CREATE statements, filtered, into fresh files.
variant() { # name, SQL condition on sqlite_master
  mkdir -p "$work/$1"
  sqlite3 "$work/seed/sqlite_db.db" \
    "SELECT sql || ';' FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND ($2) ORDER BY rowid" \
    > "$work/$1.sql"
  { echo "PRAGMA journal_mode=WAL;"; cat "$work/$1.sql"; echo "PRAGMA user_version=$version;"; } \
    | sqlite3 "$work/$1/sqlite_db.db" >/dev/null
}
variant full "1"
variant half "tbl_name IN (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid LIMIT (SELECT COUNT(*) / 2 FROM sqlite_master WHERE type = 'table')) OR tbl_name IN ('rate_buckets', 'request_samples')"
variant tiny "tbl_name IN ('rate_buckets', 'request_samples')"

for name in full half tiny; do
  echo "$name: $(sqlite3 "$work/$name/sqlite_db.db" "SELECT group_concat(type || ': ' || n, ', ') FROM (SELECT type, COUNT(*) n FROM sqlite_master GROUP BY type); SELECT SUM(LENGTH(sql)) || ' bytes of SQL' FROM sqlite_master;" | paste -sd' ')"
done
for round in $(seq "$rounds"); do
  for name in full half tiny; do
    rm -rf "$work/run" && mkdir "$work/run" && cp "$work/$name/sqlite_db.db" "$work/run/"
    figures=$("$bench" --data-dir "$work/run" --path /api/version --connections "$connections" --seconds "$seconds" \
      --var rate_limit_ip_per_minute=10000000 2>/dev/null | grep -E 'throughput|latency' | tr -s ' ' | paste -sd' ')
    echo "round $round $name:$figures"
  done
done

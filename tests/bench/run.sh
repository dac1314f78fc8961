#!/usr/bin/env bash
# The HTTP benchmark under real Spin, side by side with two baselines, in one
# run (a command that prints figures, not a test):
#
#   tests/bench/run.sh [--rounds 3] [--seconds 10] [--connections 32] [--threads 2]
#                      [--cases hello,insert,insert-schema,static,version,health,status,create]
#
# Builds the app (`spin build`, as the README says) and the baselines
# (tests/bench: a hello world answering fixed JSON, and one SQLite insert per
# request in WAL mode with synchronous=NORMAL), starts each under `spin up` on
# loopback with a fresh state directory, loads every case with wrk (the same
# threads, connections and duration), round after round so that a noisy
# neighbour hits every case alike, and prints one table: requests/s, p50,
# p99 and errors per case (the median round, and the range over rounds), and
# each case's ratio to its baseline, computed within each round, and the CPU
# time the serving Spin process spent per request (from /proc; steadier than
# requests/s when the machine is shared).
#
# `insert-schema` is the insert baseline on a copy of the app's database: the
# same one insert, paying for a connection that parses EchoPilot's schema
# (the floor of any request that opens SQLite). Before the load, the app is
# started twice on fresh state directories: once with wasmtime's cache
# disabled (cold start: every component compiled) and once with it (warm
# start), each timed from `spin up` to the first 200 of /health.
#
# Needs `spin` on PATH (../shared/spin/install.sh) and wrk (installed with
# apt-get when missing). The app's rate limits are raised so the load is not
# answered 429; they are still checked and charged on every request.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

rounds=3 seconds=10 connections=32 threads=2
cases="hello,insert,insert-schema,static,version,health,status,create"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

command -v spin >/dev/null || { echo "spin is not on PATH: eval \"\$(../shared/spin/install.sh /tmp/spin)\"" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

source "$ROOT/tests/bench/lib.sh"

echo "==> building the app (spin build) and the baselines"
spin build >/dev/null 2>&1
spin build -f tests/bench/spin.toml >/dev/null 2>&1

start_app cold --disable-cache
cold_start=$started_secs
kill "$started_pid"; wait "$started_pid" 2>/dev/null || true
start_app app \
  --variable rate_limit_ip_per_minute=10000000 \
  --variable rate_limit_credential_per_minute=10000000 \
  --variable intake_anonymous_per_address_hourly=1000000 \
  --variable intake_anonymous_daily=100000000
app_port=$started_port
echo "start to the first 200 of /health: cold (no wasmtime cache) ${cold_start} s, warm ${started_secs} s"

# The baselines: one app on a fresh database, one on a copy of the app's.
base_port=$(free_port)
mkdir -p "$work/base" "$work/schema"
spin up -f tests/bench/spin.toml --listen "127.0.0.1:$base_port" --state-dir "$work/base" \
  --sqlite "PRAGMA journal_mode = WAL" >"$work/base.log" 2>&1 &
pids+=($!)
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
  "$work/app/sqlite_db.db" "$work/schema/sqlite_db.db"
schema_port=$(free_port)
spin up -f tests/bench/spin.toml --listen "127.0.0.1:$schema_port" --state-dir "$work/schema" \
  --sqlite "PRAGMA journal_mode = WAL" >"$work/schema.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$base_port/hello" >/dev/null
wait_ready "http://127.0.0.1:$schema_port/hello" >/dev/null

job=$(curl -sf -X POST "http://127.0.0.1:$app_port/api/public/create-job" \
  -H 'content-type: application/json' -d '{"brief":"A benchmark job"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["job"]["id"])')

cat >"$work/create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"brief":"Write a haiku about load tests","priority":"normal"}'
LUA

# case -> "url|baseline|wrk extra args"
target() {
  case "$1" in
    hello) echo "http://127.0.0.1:$base_port/hello||" ;;
    insert) echo "http://127.0.0.1:$base_port/insert||" ;;
    insert-schema) echo "http://127.0.0.1:$schema_port/insert|insert|" ;;
    static) echo "http://127.0.0.1:$app_port/|hello|" ;;
    version) echo "http://127.0.0.1:$app_port/api/version|insert|" ;;
    health) echo "http://127.0.0.1:$app_port/health|insert|" ;;
    status) echo "http://127.0.0.1:$app_port/api/public/job-status/$job|insert|" ;;
    create) echo "http://127.0.0.1:$app_port/api/public/create-job|insert|-s $work/create.lua" ;;
    *) echo "unknown case $1" >&2; exit 2 ;;
  esac
}

# CPU seconds the HTTP trigger process serving port $1 has used so far (Spin
# runs each trigger in a child process). CPU per request is far less
# sensitive to a noisy neighbour than requests per second.
cpu_of_port() {
  local pid
  pid=$(pgrep -f "trigger http --listen 127.0.0.1:$1( |$)" | head -n 1)
  awk -v tck="$(getconf CLK_TCK)" '{ printf "%.4f", ($14 + $15) / tck }' "/proc/$pid/stat"
}

IFS=, read -r -a case_list <<<"$cases"
results="$work/results.tsv"
: >"$results"
for round in $(seq 1 "$rounds"); do
  for c in "${case_list[@]}"; do
    IFS='|' read -r url _ extra <<<"$(target "$c")"
    port=${url#http://127.0.0.1:}; port=${port%%/*}
    cpu_before=$(cpu_of_port "$port")
    # shellcheck disable=SC2086
    out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency $extra "$url")
    cpu_after=$(cpu_of_port "$port")
    echo "$out" | awk -v round="$round" -v c="$c" -v cpu="$(awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN { print b - a }')" '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
      /requests in/ { n = $1 }
      /Requests\/sec:/ { rps = $2 }
      /^ +50%/ { p50 = ms($2) }
      /^ +99%/ { p99 = ms($2) }
      /Non-2xx or 3xx responses:/ { errors += $5 }
      /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
      END { printf "%s\t%s\t%.1f\t%.2f\t%.2f\t%d\t%.1f\n", round, c, rps, p50, p99, errors, (n > 0 ? cpu * 1e6 / n : 0) }' >>"$results"
    printf '  round %s %-8s %s\n' "$round" "$c" "$(tail -n 1 "$results" | cut -f3-)"
  done
done

echo
echo "Spin $(spin --version | cut -d' ' -f2), wrk -t$threads -c$connections -d${seconds}s, $rounds rounds; figures: median round [min-max]"
python3 - "$results" "$cases" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
cases = sys.argv[2].split(",")
baseline = {"static": "hello", "insert-schema": "insert", "version": "insert", "health": "insert", "status": "insert", "create": "insert"}
by = {}
for r, c, rps, p50, p99, err, cpu in rows:
    by.setdefault(c, {})[int(r)] = (float(rps), float(p50), float(p99), int(err), float(cpu))
def med_rng(vals, fmt):
    return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}-{fmt(max(vals))}]"
print("| case | requests/s | p50 ms | p99 ms | errors | CPU µs/request | ratio to baseline (per round) |")
print("|---|---|---|---|---|---|---|")
for c in cases:
    runs = by.get(c, {})
    if not runs: continue
    rps = [v[0] for v in runs.values()]; p50 = [v[1] for v in runs.values()]; p99 = [v[2] for v in runs.values()]
    err = sum(v[3] for v in runs.values())
    cpu = [v[4] for v in runs.values()]
    ratio = "-"
    b = baseline.get(c)
    if b and b in by:
        rs = [runs[r][0] / by[b][r][0] for r in runs if r in by[b] and by[b][r][0] > 0]
        p99r = [runs[r][2] / by[b][r][2] for r in runs if r in by[b] and by[b][r][2] > 0]
        if rs:
            ratio = f"{med_rng([x*100 for x in rs], lambda v: f'{v:.0f}%')} of {b}; p99 {med_rng(p99r, lambda v: f'{v:.1f}x')}"
    print(f"| {c} | {med_rng(rps, lambda v: f'{v:,.0f}')} | {med_rng(p50, lambda v: f'{v:.1f}')} | {med_rng(p99, lambda v: f'{v:.1f}')} | {err} | {med_rng(cpu, lambda v: f'{v:,.0f}')} | {ratio} |")
PY

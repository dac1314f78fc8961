#!/usr/bin/env bash
# What recording a request costs, under real Spin (a command that prints
# figures, not a test):
#
#   tests/bench/recording.sh [--rounds 3] [--seconds 10]
#
# Starts the app twice under `spin up`, the same in all but
# `request_telemetry` (on: every request appends a sample; off: none), and
# loads `GET /api/version` with the dashboard key (the full pipeline: the
# guard's rate-limit charge, then the sample) with the e2e crate's load
# generator (`bench`, which has an open loop: latency counted from when each
# request was due, so a stall is not hidden by a slower client):
#
# - at saturation (closed loop, 32 connections): requests/s with recording
#   on against off, per round (target: recording costs at most 10%);
# - below it (open loop at half the median saturated rate of "off", 8
#   connections): the p99 recording adds, per round (target: at most 1 ms).
#
# Rounds alternate off and on so a noisy neighbour hits both alike.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

rounds=3 seconds=10
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

command -v spin >/dev/null || { echo "spin is not on PATH: eval \"\$(../shared/spin/install.sh /tmp/spin)\"" >&2; exit 1; }
source "$ROOT/tests/bench/lib.sh"

echo "==> building the app (spin build) and the load generator"
spin build >/dev/null 2>&1
cargo build -q -p echopilot-e2e --bin bench
bench="$ROOT/target/debug/bench"

key=bench-dashboard-key-0123456789abcdef
common=(--variable "dashboard_key=$key"
  --variable rate_limit_ip_per_minute=10000000
  --variable rate_limit_credential_per_minute=10000000)
start_app off "${common[@]}" --variable request_telemetry=off
off_port=$started_port
start_app on "${common[@]}" --variable request_telemetry=on
on_port=$started_port

# Load port $1 (the rest are bench arguments); prints "requests/s p99_ms".
load() {
  local port=$1; shift
  "$bench" --base-url "http://127.0.0.1:$port" --path /api/version \
    --header "x-dash-key:$key" --seconds "$seconds" --warmup 1 "$@" |
    awk '/throughput:/ { rps = $2 } /latency ms:/ { p99 = $8 } END { print rps, p99 }'
}

results="$work/recording.tsv"
: >"$results"
echo "==> saturation: closed loop, 32 connections, $rounds rounds of ${seconds}s"
for round in $(seq 1 "$rounds"); do
  for mode in off on; do
    port=$off_port; [ "$mode" = on ] && port=$on_port
    read -r rps p99 <<<"$(load "$port" --connections 32)"
    printf 'closed\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$rps" "$p99" >>"$results"
    printf '  round %s %-3s %6s requests/s  p99 %s ms\n' "$round" "$mode" "$rps" "$p99"
  done
done
rate=$(awk -F'\t' '$1 == "closed" && $3 == "off" { print $4 }' "$results" | sort -n |
  awk '{ v[NR] = $1 } END { printf "%d", v[int((NR + 1) / 2)] / 2 }')
echo "==> below saturation: open loop at $rate requests/s (half of off's median), 8 connections"
for round in $(seq 1 "$rounds"); do
  for mode in off on; do
    port=$off_port; [ "$mode" = on ] && port=$on_port
    read -r rps p99 <<<"$(load "$port" --connections 8 --rate "$rate")"
    printf 'open\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$rps" "$p99" >>"$results"
    printf '  round %s %-3s %6s requests/s  p99 %s ms\n' "$round" "$mode" "$rps" "$p99"
  done
done

echo
echo "Spin $(spin --version | awk '{print $2}'), GET /api/version with the dashboard key, $rounds rounds of ${seconds}s; median [min-max]"
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for loop, r, mode, rps, p99 in rows:
    by.setdefault(loop, {}).setdefault(int(r), {})[mode] = (float(rps), float(p99))
def mr(vals, f):
    return f"{f(statistics.median(vals))} [{f(min(vals))}-{f(max(vals))}]"
print("| load | off: requests/s | on: requests/s | off: p99 ms | on: p99 ms | recording costs (per round) |")
print("|---|---|---|---|---|---|")
for loop, label in (("closed", "saturated, 32 connections"), ("open", "open loop at half the maximum, 8 connections")):
    runs = [v for v in by.get(loop, {}).values() if "on" in v and "off" in v]
    if not runs:
        continue
    off_rps = [v["off"][0] for v in runs]; on_rps = [v["on"][0] for v in runs]
    off_p99 = [v["off"][1] for v in runs]; on_p99 = [v["on"][1] for v in runs]
    if loop == "closed":
        cost = mr([(1 - v["on"][0] / v["off"][0]) * 100 for v in runs], lambda x: f"{x:.0f}%") + " of throughput"
    else:
        cost = mr([v["on"][1] - v["off"][1] for v in runs], lambda x: f"{x:+.2f} ms") + " at p99"
    print(f"| {label} | {mr(off_rps, lambda x: f'{x:,.0f}')} | {mr(on_rps, lambda x: f'{x:,.0f}')} | "
          f"{mr(off_p99, lambda x: f'{x:.1f}')} | {mr(on_p99, lambda x: f'{x:.1f}')} | {cost} |")
PY

# Shared by the benchmark commands in tests/bench (sourced, not run): a work
# folder removed on exit with every server started, free loopback ports,
# waiting for a server, and starting the app under `spin up`.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Wait (at most 120 s) for $1 to answer 200; print the seconds it took.
wait_ready() {
  local url=$1 start; start=$(date +%s.%N)
  for _ in $(seq 1 2400); do
    if curl -sf -o /dev/null "$url"; then
      awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; return 0
    fi
    sleep 0.05
  done
  echo "no answer from $url within 120 s; the logs:" >&2; tail -n 5 "$work"/*.log >&2; return 1
}

# Start the app on a fresh state directory; sets started_port, started_pid
# and started_secs (from `spin up` to the first 200 of /health). Extra
# arguments go to `spin up`.
start_app() {
  local name=$1; shift
  started_port=$(free_port)
  mkdir -p "$work/$name"
  spin up --listen "127.0.0.1:$started_port" --state-dir "$work/$name" "$@" >"$work/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  started_secs=$(wait_ready "http://127.0.0.1:$started_port/health")
}


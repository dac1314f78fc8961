#!/usr/bin/env bash
# EchoPilot's one test command: installs what it needs, then runs every tier.
#
#   format → lint (native and wasm32) → release wasm build (sizes checked)
#   → native tests (core against real SQLite; the end-to-end suite on the
#   built .wasm through the Spin-compatible host in tests/host)
#   → real Spin (`spin build`, then the end-to-end suite with a `spin up`
#   per app: the cron plugin, replicas, Redis key-value)
#
# The real-Spin tier uses whatever `spin` is on PATH (Spin 3.x or 4.x with
# the trigger-cron plugin). Without one it is skipped, saying so; with
# CI=true a missing Spin fails the run (.ci/run installs ../shared/spin).
#
# Usage: tests/run.sh            (from anywhere; a fresh clone is fine)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MAX_WASM_BYTES=$((1536 * 1024))   # 1.5 MiB per component
started=$(date +%s)
# Each step is stamped with the seconds since the start, so a slow step shows.
step() { printf '\n==> [%ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

step "toolchain: wasm32-wasip2 target, rustfmt, clippy"
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-wasip2 >/dev/null
  rustup component add rustfmt clippy >/dev/null
fi
rustc --version
cargo --version

step "real Spin: the spin on PATH and its trigger-cron plugin"
if command -v spin >/dev/null 2>&1; then
  spin --version
  if ! spin plugins list --installed 2>/dev/null | grep -q '^trigger-cron '; then
    echo "the trigger-cron plugin is not installed for this spin (spin plugins install trigger-cron; SPIN_DATA_DIR=${SPIN_DATA_DIR:-unset})"
    exit 1
  fi
  spin_tier=run
elif [ "${CI:-}" = "true" ]; then
  echo "FAILED: CI=true and no spin on PATH, so the real-Spin tier cannot run."
  echo ".ci/run installs Spin from ../shared/spin; by hand: eval \"\$(../shared/spin/install.sh DIR)\""
  exit 1
else
  echo "no spin on PATH: the real-Spin tier will be SKIPPED."
  echo "Install Spin 3.x/4.x with the trigger-cron plugin, or: eval \"\$(../shared/spin/install.sh DIR)\""
  spin_tier=skip
fi

step "packages: Debian's python3-prometheus-client (the /metrics scenarios parse with it) and redis-server (the scale-out scenarios under real Spin)"
# Debian's interpreter, not whatever python3 comes first on PATH (pyenv):
# the package installs into /usr/lib/python3/dist-packages.
missing=()
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing+=(python3 python3-prometheus-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import prometheus_client.parser; print("prometheus_client parser:", prometheus_client.parser.__file__)'
redis-server --version

step "python: test dependencies in target/pyenv (tests/requirements.txt, pinned)"
# One virtualenv for every Python tool the tests use (the SBOM validator,
# moto's S3 server);
# pip runs only when tests/requirements.txt changed since the last install.
PYENV="$ROOT/target/pyenv"
[ -x "$PYENV/bin/python" ] || python3 -m venv "$PYENV"
if ! cmp -s tests/requirements.txt "$PYENV/requirements.installed"; then
  "$PYENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt "$PYENV/requirements.installed"
fi
"$PYENV/bin/python" -c 'import cyclonedx.validation.json; print("cyclonedx validator:", cyclonedx.validation.json.__file__)'
"$PYENV/bin/python" -c 'import moto; print("moto (S3 server for the off-machine backup scenario):", moto.__version__)'

step "format: cargo fmt --check"
cargo fmt --all -- --check

step "lint (native): cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "lint (wasm32-wasip2): cargo clippy -D warnings"
cargo clippy --workspace --exclude echopilot-e2e --target wasm32-wasip2 --locked -- -D warnings

step "build: every component, release, wasm32-wasip2"
cargo build --workspace --exclude echopilot-e2e --target wasm32-wasip2 --release --locked

step "sizes: each component's .wasm (limit $MAX_WASM_BYTES bytes)"
too_big=0
while read -r src; do
  if [ ! -f "$src" ]; then
    echo "MISSING  $src (named in spin.toml)"; too_big=1; continue
  fi
  size=$(stat -c %s "$src")
  awk -v s="$size" -v f="$src" 'BEGIN { printf "%9d bytes  %6.2f MiB  %s\n", s, s / 1048576, f }' 
  if [ "$size" -gt "$MAX_WASM_BYTES" ]; then echo "  ^ over the limit"; too_big=1; fi
done < <(sed -n 's/^source = "\(.*\.wasm\)"$/\1/p' spin.toml)
[ "$too_big" -eq 0 ] || { echo "component size check failed"; exit 1; }

step "tests: core (native, real SQLite) and end-to-end (built .wasm in the test host)"
ECHOPILOT_ROOT="$ROOT" cargo test --workspace --locked

if [ "$spin_tier" = run ]; then
  step "real Spin: spin build, then the end-to-end suite with a spin up per app"
  tier_started=$(date +%s)
  spin build    # as the README says (one workspace build; see spin.toml)
  # --workspace, as the native tests above: `-p echopilot-e2e` alone
  # resolves dependency features for that one package, which rebuilt
  # wasmtime and the test host from scratch here (about 7 minutes in CI).
  ECHOPILOT_ROOT="$ROOT" ECHOPILOT_E2E_RUNTIME=spin cargo test --workspace --test e2e --locked
  echo "real-Spin tier: $(( $(date +%s) - tier_started ))s"
else
  printf '\nSKIPPED: the real-Spin tier (no spin on PATH; see the top of this run).\n'
fi

# ---- browser tier (the dashboard) --------------------------------------------
# Headless Chromium (Debian's chromium) driven by playwright-core, axe-core on
# every view, against the built app under real `spin up`: tests/browser/run.sh.
# Needs Spin with the trigger-cron plugin on PATH; under CI=true a missing Spin
# fails the run instead of skipping the tier.
if command -v spin >/dev/null 2>&1; then
  step "browser: the dashboard in headless Chromium under real spin up"
  tests/browser/run.sh
elif [ "${CI:-}" = "true" ]; then
  echo "spin is not on PATH: the browser tier cannot run (CI=true)"; exit 1
else
  step "browser: skipped (spin is not on PATH)"
fi
printf '\nAll tiers passed in %ss.\n' "$(( $(date +%s) - started ))"
# ---- end of the browser tier ---------------------------------------------------

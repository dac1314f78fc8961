#!/usr/bin/env bash
# The browser tier: the dashboard in headless Chromium (Debian's chromium)
# driven by Playwright (playwright-core), with axe-core, against the built
# app under real `spin up`.
#
#   installs Debian's chromium and nodejs/npm if missing (apt-get; sudo when
#   not root), `npm ci` here, the unit tests of the dashboard's modules and
#   catalogues (node --test unit/), then `spin up` on a free loopback port
#   with a temp state dir (and a stand-in for Stripe's API on another
#   loopback port, lib/stripe-mock.js, for the money views), the browser
#   tests (dashboard.test.js, money.test.js), and Spin and the stand-in
#   stopped by their PIDs. Screenshots: target/screenshots/.
#
# Usage: tests/browser/run.sh   (after `spin build`; Spin and the
#        trigger-cron plugin on PATH)
set -euo pipefail

cd "$(dirname "$0")"
HERE=$(pwd)
ROOT=$(cd ../.. && pwd)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
step() { printf '\n==> %s\n' "$*"; }

step "packages: Debian's chromium, nodejs and npm (and a font for Urdu)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The screenshots of the Urdu views need a font with Urdu glyphs.
{ command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ur 2>/dev/null)" ]; } || missing+=(fonts-noto-core)
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/chromium --version
node --version

step "npm ci (playwright-core and axe-core, pinned in package-lock.json)"
npm ci --no-audit --no-fund --silent

step "unit: the dashboard's modules, catalogues, CSP rules and offline shell"
node --experimental-detect-module --no-warnings --test unit/

step "spin up on a free loopback port"
command -v spin >/dev/null 2>&1 || { echo "spin is not on PATH"; exit 1; }
for wasm in $(sed -n 's/^source = "\(.*\.wasm\)"$/\1/p' "$ROOT/spin.toml"); do
  [ -f "$ROOT/$wasm" ] || { echo "missing $wasm: run spin build (or the wasm build) first"; exit 1; }
done
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
STATE=$(mktemp -d)
DASH_KEY="browser-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_EMAIL="admin@example.com"
ADMIN_PASSWORD="browser-admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
JWT_SECRET="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
WEBHOOK_SECRET="whsec_browser_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
PORTAL_SECRET="portal-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
LOG="$STATE/spin.log"
# Stripe's API for the money views: the stand-in prints its port.
node "$HERE/lib/stripe-mock.js" >"$STATE/stripe.port" 2>"$STATE/stripe.log" &
STRIPE_PID=$!
for _ in $(seq 1 50); do [ -s "$STATE/stripe.port" ] && break; sleep 0.1; done
STRIPE_PORT=$(cat "$STATE/stripe.port")
[ -n "$STRIPE_PORT" ] || { echo "the Stripe stand-in did not start:"; cat "$STATE/stripe.log"; kill "$STRIPE_PID"; exit 1; }
(
  cd "$ROOT"
  exec spin up --listen "127.0.0.1:$PORT" --state-dir "$STATE" \
    --variable dashboard_key="$DASH_KEY" \
    --variable jwt_secret="$JWT_SECRET" \
    --variable admin_email="$ADMIN_EMAIL" \
    --variable admin_password="$ADMIN_PASSWORD" \
    --variable rate_limit_ip_per_minute=100000 \
    --variable rate_limit_credential_per_minute=100000 \
    --variable stripe_secret_key="sk_test_browser" \
    --variable stripe_base_url="http://127.0.0.1:$STRIPE_PORT" \
    --variable stripe_webhook_secret="$WEBHOOK_SECRET" \
    --variable portal_signing_secret="$PORTAL_SECRET" \
    --variable public_base_url="http://127.0.0.1:$PORT"
) >"$LOG" 2>&1 &
SPIN_PID=$!
stop() {
  # spin up runs its triggers as child processes: stop those PIDs too.
  local children
  children=$(pgrep -P "$SPIN_PID" 2>/dev/null || true)
  kill "$SPIN_PID" 2>/dev/null || true
  wait "$SPIN_PID" 2>/dev/null || true
  for pid in $children; do kill "$pid" 2>/dev/null || true; done
  kill "$STRIPE_PID" 2>/dev/null || true
  rm -rf "$STATE"
}
trap stop EXIT

# The first start of a new build compiles every component (about 15 s on
# an idle machine, minutes on a busy one); later starts hit Wasmtime's cache.
up=0
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$SPIN_PID" 2>/dev/null || break
  sleep 0.5
done
if [ "$up" -ne 1 ]; then
  echo "spin up did not answer /health within 300 s:"; tail -n 40 "$LOG"; exit 1
fi
echo "spin up (pid $SPIN_PID) on 127.0.0.1:$PORT"

step "browser: 390x844 and 1280x800 (screenshots in target/screenshots/)"
rm -rf "$ROOT/target/screenshots"
status=0
DASH_BASE_URL="http://127.0.0.1:$PORT" DASH_KEY="$DASH_KEY" \
  DASH_ADMIN_EMAIL="$ADMIN_EMAIL" DASH_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  DASH_WEBHOOK_SECRET="$WEBHOOK_SECRET" \
  node --test --test-concurrency=1 "$HERE/dashboard.test.js" "$HERE/money.test.js" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- spin up log (last 40 lines) ---"; tail -n 40 "$LOG"
fi
echo "screenshots: $(find "$ROOT/target/screenshots" -name '*.png' 2>/dev/null | wc -l) in target/screenshots/"
exit "$status"

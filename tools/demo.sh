#!/usr/bin/env bash
# npm run demo — a demo campaign on the reference substrate (substrate/wonderland) with offline heuristic workers.
# Sets itself up (PostgreSQL/NATS, Debian packages, build), starts every service with `aevo up` in the background,
# runs the campaign while watching it, prints the dashboard URL and the final table, and leaves the services
# running (stop them with `npx aevo down` or `node libs/cli/dist/main.js down`), or stops them with --stop.
#
#   npm run demo [-- --stop] [-- --rounds N --workers N --size tiny|cpu --substrate PATH --id ID]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

STOP=0
ROUNDS=2
WORKERS=4
SIZE=tiny
SUBSTRATE=substrate/wonderland
ID="demo-$(date +%Y%m%d-%H%M%S)"
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --stop) STOP=1 ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
    --workers) WORKERS=${2:?--workers needs a number}; shift ;;
    --size) SIZE=${2:?--size needs tiny, cpu or gpu}; shift ;;
    --substrate) SUBSTRATE=${2:?--substrate needs a path}; shift ;;
    --id) ID=${2:?--id needs a campaign id}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

export AEVO_HOME=${AEVO_HOME:-$ROOT/.aevo}
mkdir -p "$AEVO_HOME/logs"
AEVO="node $ROOT/libs/cli/dist/main.js"
# How to call aevo in the hints (npx aevo once npm has linked the workspace's bin).
HINT="node libs/cli/dist/main.js"
[ -x node_modules/.bin/aevo ] && HINT="npx aevo"

echo "== set-up"
bash tools/ensure-infra.sh
bash tools/setup-system.sh
if [ ! -d node_modules ]; then
  echo "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
# Always: a checkout updated since the last build would otherwise run stale services against new substrate files
# (Nx restores unchanged projects from its cache, so this takes seconds when nothing changed).
echo "building (cached where unchanged)"
npx nx run-many -t build --parallel=2 --outputStyle=static

# Already running for this AEVO_HOME? Then reuse it.
state="$AEVO_HOME/aevo-up.json"
running_pid() {
  [ -f "$state" ] && node -e 'const s=require(process.argv[1]);try{process.kill(s.pid,0);console.log(s.pid)}catch{}' \
    "$state" || true
}
if [ -z "$(running_pid)" ]; then
  echo "== starting the control plane (aevo up; log: $AEVO_HOME/logs/aevo-up.log)"
  port=${AEVO_API_PORT:-3000}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken; the dashboard will use a free port"
    port=0
  fi
  nohup $AEVO up --api-port "$port" >"$AEVO_HOME/logs/aevo-up.log" 2>&1 &
  for _ in $(seq 1 600); do
    grep -q 'service(s) ready' "$AEVO_HOME/logs/aevo-up.log" 2>/dev/null && break
    if ! kill -0 $! 2>/dev/null; then
      echo "aevo up stopped:" >&2; tail -40 "$AEVO_HOME/logs/aevo-up.log" >&2; exit 1
    fi
    sleep 0.5
  done
  grep -q 'service(s) ready' "$AEVO_HOME/logs/aevo-up.log" || {
    echo "aevo up did not become ready:" >&2; tail -40 "$AEVO_HOME/logs/aevo-up.log" >&2; exit 1
  }
else
  echo "== the control plane is already running for $AEVO_HOME (pid $(running_pid))"
fi
dashboard=$(node -e 'const s=require(process.argv[1]);console.log(s.dashboard||"")' "$state" 2>/dev/null || true)

echo "== campaign $ID: $ROUNDS rounds x $WORKERS workers on $SUBSTRATE ($SIZE), heuristic workers"
[ -n "$dashboard" ] && echo "dashboard: $dashboard"
set +e
$AEVO campaign start --id "$ID" --substrate "$SUBSTRATE" --size "$SIZE" --rounds "$ROUNDS" --workers "$WORKERS" \
  --worker-kind heuristic --watch --interval 2000
status=$?
set -e

echo
echo "== result"
$AEVO campaign status "$ID" || true
echo
[ -n "$dashboard" ] && echo "dashboard:  $dashboard  (campaign $ID)"
echo "audit:      $HINT audit replay --verify"
echo "logs:       $AEVO_HOME/logs/<service>.log"
if [ "$STOP" = 1 ]; then
  $AEVO down
else
  echo "services:   still running — stop them with: $HINT down"
fi
exit $status

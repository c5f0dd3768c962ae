#!/usr/bin/env bash
# make demo: a live simulated fleet and the cases Precall opens for it.
#
# Starts, all in a temporary directory and on free loopback ports: mosquitto,
# `precall serve` with the example rules and fault-code catalog, and
# `precall-sim` with 1,000 machines whose telemetry runs 10x faster than wall
# time (one wall minute is ten fleet minutes). Follows GET /v1/changes and
# prints each case as it opens. Ctrl-C stops everything it started and prints
# the score (recall, precision, duplicates, lead time per fault kind).
#
# Without a terminal (stdin not a tty, or CI set) it ends by itself after
# DEMO_SECONDS (default 90) of simulation and prints the score.
#
# usage: demo.sh BUILD_DIR   (the release build: gateway/precall, devices/simulator/precall-sim)
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR}
precall=$build/gateway/precall
sim=$build/devices/simulator/precall-sim
here=$(cd "$(dirname "$0")" && pwd)
machines=${DEMO_MACHINES:-1000}
token=demo-token

interactive=
if [ -t 0 ] && [ -z "${CI:-}" ]; then interactive=1; fi

work=$(mktemp -d)
broker_pid= gateway_pid= follow_pid= sim_pid=
stop() {  # SIGTERM one process we started, and wait for it
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$sim_pid"; stop "$follow_pid"; stop "$gateway_pid"; stop "$broker_pid"
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "demo: $1" >&2
  [ -f "$work/$2" ] && tail -20 "$work/$2" >&2
  exit 1
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Polls a command for up to $1 seconds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

echo "== precall check: the example rules and fault-code catalog"
"$precall" check --rules "$here/rules.yaml" --devices "$here/devices.yaml"

mqtt_port=$(free_port)
http_port=$(free_port)
api=http://127.0.0.1:$http_port
cat > "$work/mosquitto.conf" <<EOF
listener $mqtt_port 127.0.0.1
allow_anonymous true
max_queued_messages 100000
EOF
cat > "$work/precall.yaml" <<EOF
broker: {uri: "tcp://127.0.0.1:$mqtt_port", client_id: precall-demo}
storage: {path: ./data}
http: {listen: "127.0.0.1:$http_port", tokens: [{token: $token, tenant: "*"}]}
rules: ["$here/rules.yaml"]
devices: "$here/devices.yaml"
EOF

# Each in its own session, so Ctrl-C reaches only this script, which then
# stops them in order (simulator first, gateway last) and scores in between.
setsid mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker_pid=$!
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$mqtt_port" || fail "mosquitto did not start" mosquitto.log
setsid "$precall" serve --config "$work/precall.yaml" > "$work/serve.log" 2>&1 &
gateway_pid=$!
wait_for 30 curl -sf "$api/readyz" || fail "precall serve did not become ready" serve.log
echo "== precall serve: MQTT on 127.0.0.1:$mqtt_port, service-center API on $api"

setsid python3 "$here/follow_cases.py" --api "$api" --token "$token" &
follow_pid=$!

if [ -n "$interactive" ]; then
  # Faults keep coming for about six minutes.
  sim_args=(--duration 0s --fault-rate 0.3 --fault-window 60m)
else
  sim_args=(--duration "${DEMO_SECONDS:-90}s" --fault-rate 0.08 --fault-window 8m)
fi
echo "== precall-sim: $machines machines, 10 fleet minutes per wall minute; cases as they open:"
setsid "$sim" --broker "tcp://127.0.0.1:$mqtt_port" --machines "$machines" --speed 10 \
  --interval 10s --fault-start 1m --silent-after 1m --truth "$work/truth.jsonl" \
  "${sim_args[@]}" 2> "$work/sim.log" &
sim_pid=$!

if [ -n "$interactive" ]; then
  echo "   (Ctrl-C stops the demo and prints the score)"
  interrupted=
  trap 'interrupted=1' INT
  while [ -z "$interrupted" ] && kill -0 "$sim_pid" 2>/dev/null; do sleep 0.5; done
  trap - INT
  stop "$sim_pid"
else
  wait "$sim_pid" || fail "precall-sim failed" sim.log
fi
sim_pid=
cat "$work/sim.log" >&2
echo
echo "== score: the cases over the API against the simulator's ground truth"
# --wait: cases still in flight get up to 10 s; episodes not due by then stay pending.
"$sim" score --truth "$work/truth.jsonl" --api "$api" --token "$token" --wait --timeout 10s
stop "$follow_pid"
follow_pid=

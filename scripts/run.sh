#!/usr/bin/env bash
# Starts the controller (embedded MQTT broker, data in ./data) and one local
# agent as room demo/room-1, and prints the board's address first; Ctrl-C
# stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

HTTP_PORT=${HTTP_PORT:-9780}
MQTT_PORT=${MQTT_PORT:-1883}
INTERVAL=${INTERVAL:-15s}
KEEPALIVE=${KEEPALIVE:-10s}
# Extra agent flags, e.g. AGENT_FLAGS="--only host,peripherals" on a server
# with no camera or sound, or "--no-loopback" to keep the speakers silent.
AGENT_FLAGS=${AGENT_FLAGS:-}
# The local agent tests its link against the controller's probe with a token
# made for this run (in the environment, not on the command line).
export SIAPRAPAT_PROBE_TOKEN=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Each program gets its own session (setsid), so Ctrl-C reaches only this
# script, which stops the agent first (it says "offline") and then the controller.
# (A variable, not a function: "func &" would fork a subshell and $! would
# be its pid, not the program's.)
detach=$(command -v setsid || true)

ctl_pid=""; agent_pid=""
stop() {
  trap - INT TERM EXIT
  set +e # stop both programs even if printing fails (a closed terminal or pipe)
  echo; echo "stopping..."
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  [ -n "$ctl_pid" ] && kill -TERM "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null || true
  echo "stopped."
}
trap stop INT TERM EXIT

echo "siaprapat board: http://localhost:$HTTP_PORT/ (starting the controller and a demo agent...)"
$detach ./bin/siaprapat-controller serve --http ":$HTTP_PORT" --mqtt-listen "127.0.0.1:$MQTT_PORT" --data ./data &
ctl_pid=$!

# The agent retries until the broker answers; only stop here if the
# controller could not start at all (a port in use, a locked data dir).
sleep 1
if ! kill -0 "$ctl_pid" 2>/dev/null; then echo "the controller did not start (see above)"; exit 1; fi

$detach ./bin/siaprapat-agent run --broker "mqtt://127.0.0.1:$MQTT_PORT" --site demo --room room-1 --data ./data/agent \
  --interval "$INTERVAL" --keepalive "$KEEPALIVE" \
  --probe-url "http://127.0.0.1:$HTTP_PORT" $AGENT_FLAGS &
agent_pid=$!

cat <<MSG

siaprapat is running:
  board      http://localhost:$HTTP_PORT/   <- open this in a browser: the rooms, the meetings
  this room  http://localhost:$HTTP_PORT/rooms/demo/room-1
  metrics    http://localhost:$HTTP_PORT/metrics
  API        http://localhost:$HTTP_PORT/api/v1/rooms (every endpoint: /api/)
  MQTT       mqtt://127.0.0.1:$MQTT_PORT (embedded broker)
Press Ctrl-C to stop both.

MSG
wait -n "$ctl_pid" "$agent_pid" || true

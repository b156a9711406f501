#!/usr/bin/env bash
# Starts the controller (embedded MQTT broker, data in ./data) and one local
# agent as room demo/room-1, and prints the board's address first; Ctrl-C
# stops both cleanly, also when this script's output goes through a pipe
# (make run | tee log). It refuses to start over a run that is still alive.
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
PIDS=./data/run.pids # the programs of the run going on, for the next one to find

mkdir -p ./data
# A run still alive (its terminal closed, its stop cut short) holds the
# ports and the data: say so, rather than start a second beside it.
if [ -f "$PIDS" ]; then
  alive=""
  for p in $(cat "$PIDS"); do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
  if [ -n "$alive" ]; then
    echo "a run started here is still going (pids:$alive): stop it first with: kill$alive" >&2
    exit 1
  fi
  rm -f "$PIDS"
fi
for port in "$HTTP_PORT" "$MQTT_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use by another program: stop it, or choose other ports: HTTP_PORT=9781 MQTT_PORT=1884 make run" >&2
    exit 1
  fi
done

# Each program gets its own session (setsid), so Ctrl-C reaches only this
# script, which stops the agent first (it says "offline") and then the controller.
# (A variable, not a function: "func &" would fork a subshell and $! would
# be its pid, not the program's.)
detach=$(command -v setsid || true)

ctl_pid=""; agent_pid=""
say() { echo "$@" 2>/dev/null || true; } # the terminal or pipe may be gone
stop() {
  trap - INT TERM EXIT HUP
  trap '' PIPE # a closed pipe (tee stopped by the same Ctrl-C) must not end this before the programs
  set +e
  say; say "stopping..."
  if [ -n "$agent_pid" ]; then kill -TERM "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; fi
  if [ -n "$ctl_pid" ]; then kill -TERM "$ctl_pid" 2>/dev/null; wait "$ctl_pid" 2>/dev/null; fi
  rm -f "$PIDS"
  say "stopped."
}
trap stop INT TERM EXIT HUP

say "siaprapat board: http://localhost:$HTTP_PORT/ (starting the controller and a demo agent...)"
$detach ./bin/siaprapat-controller serve --http ":$HTTP_PORT" --mqtt-listen "127.0.0.1:$MQTT_PORT" --data ./data &
ctl_pid=$!
echo "$ctl_pid" > "$PIDS"

# Start the agent only once the controller is up (its broker subscribed):
# a controller that cannot start (a port in use, a locked data directory)
# stops the run here, with its own message above.
for i in $(seq 1 150); do
  if ! kill -0 "$ctl_pid" 2>/dev/null; then
    ctl_pid=""
    say "the controller did not start (see its message above)"
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT" && printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3 && grep -q '^ready' <&3) 2>/dev/null; then
    break
  fi
  sleep 0.1
done

$detach ./bin/siaprapat-agent run --broker "mqtt://127.0.0.1:$MQTT_PORT" --site demo --room room-1 --data ./data/agent \
  --interval "$INTERVAL" --keepalive "$KEEPALIVE" \
  --probe-url "http://127.0.0.1:$HTTP_PORT" $AGENT_FLAGS &
agent_pid=$!
echo "$ctl_pid $agent_pid" > "$PIDS"

say "
siaprapat is running:
  board      http://localhost:$HTTP_PORT/   <- open this in a browser: the rooms, the meetings
  this room  http://localhost:$HTTP_PORT/rooms/demo/room-1
  metrics    http://localhost:$HTTP_PORT/metrics
  API        http://localhost:$HTTP_PORT/api/v1/rooms (every endpoint: /api/)
  MQTT       mqtt://127.0.0.1:$MQTT_PORT (embedded broker)
Press Ctrl-C to stop both.
"
wait -n "$ctl_pid" "$agent_pid" || true

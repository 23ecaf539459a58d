#!/bin/sh
# A "legacy app": reads its database URL from a file at start, and again whenever it gets SIGHUP (the
# contract of nginx, haproxy, postgres…). The keysafe agent (agent.yaml beside this script) keeps the file
# current and sends the SIGHUP after each rotation, to the pid this script writes to run/app.pid.
#
#   examples/legacy-file/app.sh          (with the agent running: see ../README.md)
#
# SECRET_FILE and PID_FILE override the paths (defaults: under run/ beside this script, as in agent.yaml).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SECRET_FILE=${SECRET_FILE:-$here/run/secrets/db.url}
PID_FILE=${PID_FILE:-$here/run/app.pid}

load() {
  # One read of the whole file: the agent swaps it atomically, so this is always one complete version.
  DB_URL=$(cat "$SECRET_FILE")
  # A real app would reconnect here; this one says what it would connect to.
  echo "app: (re)connecting to $DB_URL"
}

# The agent writes the file within a second of starting; wait for it a little.
tries=0
until [ -s "$SECRET_FILE" ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 30 ]; then
    echo "app: $SECRET_FILE did not appear; is the agent running?" >&2
    exit 1
  fi
  sleep 1
done

trap load HUP
trap 'rm -f "$PID_FILE"; echo "app: stopping"; exit 0' INT TERM
load
# Publish the pid only now that SIGHUP is handled: the agent signals whatever pid it finds there.
mkdir -p "$(dirname "$PID_FILE")"
echo $$ > "$PID_FILE"
echo "app: running as pid $$"

while :; do
  # `wait` returns as soon as a signal arrives, so the trap runs at once, not after the sleep.
  sleep 1 &
  wait $! || true
done

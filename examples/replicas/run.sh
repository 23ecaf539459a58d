#!/usr/bin/env bash
# Three Keysafe replicas on one PostgreSQL database, on this machine: ports 8271, 8272 and 8273
# (or KEYSAFE_REPLICAS_PORTS="p1 p2 p3").
#
#   examples/replicas/run.sh postgres://keysafe:secret@127.0.0.1:5432/keysafe
#
# Run from the repository root after `npm ci && npm run build`. What the replicas share besides the
# database is created once in ./keysafe-replicas/: the root key and the admin's credentials (in a
# cluster both come from one Secret). Each replica keeps its own data dir (its audit log).
set -euo pipefail
url=${1:?usage: examples/replicas/run.sh postgres://user:password@host:port/database}
cli=${KEYSAFE_CLI:-dist/cli.js}
read -r -a ports <<<"${KEYSAFE_REPLICAS_PORTS:-8271 8272 8273}"
base=${KEYSAFE_REPLICAS_DIR:-keysafe-replicas}
mkdir -p "$base"
chmod 700 "$base"
if [[ ! -f $base/root.key.b64 ]]; then
  (umask 077 && node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64'))" >"$base/root.key.b64")
fi
export KEYSAFE_ROOT_KEY
KEYSAFE_ROOT_KEY=$(cat "$base/root.key.b64")

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for i in 0 1 2; do
  node "$cli" server --listen "127.0.0.1:${ports[$i]}" --data-dir "$base/replica-$i" --store "$url" \
    --admin-credentials-file "$base/admin-credentials.json" &
  pids+=($!)
  # The first replica creates the admin credentials and applies the migrations; the others find them.
  if [[ $i == 0 ]]; then
    until [[ -f $base/admin-credentials.json ]] && curl -sf "http://127.0.0.1:${ports[0]}/readyz" >/dev/null; do
      kill -0 "${pids[0]}" || exit 1
      sleep 0.2
    done
  fi
done
echo "replicas: ${ports[*]/#/http://127.0.0.1:} (admin: $base/admin-credentials.json)"
wait

#!/usr/bin/env bash
# Installs, builds and runs a real load test. With no arguments it starts the built-in sink
# server on a free loopback port and loads it; with arguments they are passed to load-tester
# as they are (e.g. scripts/demo.sh --hostname 10.0.0.5 --port 9000 --devices 500).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
bin=build/load-tester

if (($#)); then
  exec "$bin" "$@"
fi

out=$(mktemp -d)
"$bin" serve --sink tcp --port 0 --json "$out/server.json" >"$out/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$out/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\).*/\1/p' "$out/serve.log" | head -1)
echo "built-in sink server: $(head -1 "$out/serve.log")"
"$bin" --sink tcp --port "$port" --devices 200 --msg 50 --payload 64 --duration 5s \
  --json "$out/run.json" --hdr-log "$out/run.hlog"
kill -TERM $server
wait $server || true
trap - EXIT
echo
echo "server side: $(tail -1 "$out/serve.log")"
echo "result file: $out/run.json   HdrHistogram log: $out/run.hlog"

#!/usr/bin/env bash
# The whole path on one machine, from a fresh clone:
#   psql / pgbench -> alloydb-auth-proxy -> mutual TLS 1.3 + metadata exchange
#                  -> alloydb-emulator (127.0.0.2:5433) -> a throwaway PostgreSQL
# Installs what is missing, builds in release mode, starts everything on loopback, runs a query
# and a short pgbench through the proxy, shows what the emulator saw, and stops all it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh
echo "demo: building (release)"
swift build -c release 2>&1 | grep -E 'error|warning|Compiling|Build complete' | tail -n 3
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/alloydb-demo.XXXXXX)
# PostgreSQL runs as the postgres user and must reach its directory inside this one; the
# emulator keeps its own state directory private (0700) and its key files 0600.
chmod 0755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/pg-throwaway.sh stop "$work/pg" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

pg_port=$(free_port)
scripts/pg-throwaway.sh start "$work/pg" "$pg_port"

instance=projects/demo-project/locations/us-central1/clusters/demo/instances/primary
"$bin/alloydb-emulator" serve --state-dir "$work/emulator" \
    --instance "$instance=127.0.0.2" --postgres "127.0.0.1:$pg_port" \
    >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for_file "$work/emulator/emulator.json" 30 || { cat "$work/emulator.log"; exit 1; }
api=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['apiEndpoint'])" \
    "$work/emulator/emulator.json")
echo "demo: emulator Admin API at $api, instance endpoint 127.0.0.2:5433"

proxy_port=$(free_port)
"$bin/alloydb-auth-proxy" --port "$proxy_port" \
    --alloydbadmin-api-endpoint "$api" \
    --credentials-file "$work/emulator/service-account.json" \
    "$instance" >"$work/proxy.log" 2>&1 &
pids+=($!)
wait_for_port 127.0.0.1 "$proxy_port" 30 || { cat "$work/proxy.log"; exit 1; }
echo "demo: proxy listening on 127.0.0.1:$proxy_port"

conn="host=127.0.0.1 port=$proxy_port user=postgres dbname=postgres sslmode=disable"
echo
echo "demo: psql through the proxy"
psql "$conn" -X -c "SELECT version();" -c "SELECT count(*) AS rows FROM generate_series(1, 100000);"

echo "demo: pgbench through the proxy (4 clients, 5 seconds)"
pgbench "$conn" -i -s 2 -q >/dev/null 2>&1
pgbench "$conn" -c 4 -j 2 -T 5 -S 2>/dev/null | grep -E 'tps|latency average|number of transactions actually'

echo
echo "demo: what the emulator saw on its TLS endpoint (first three tunnels)"
python3 - "$work/emulator/events.jsonl" <<'PY'
import json, sys
tunnels = [e for e in map(json.loads, open(sys.argv[1])) if e.get("event") == "tunnel"]
for e in tunnels[:3]:
    print(f"  {e['tlsVersion']}  {e['cipher']}  client certificate serial {e['clientCertSerial']}"
          f"  auth {e['authType']}  mdx {e['mdx']}")
print(f"  {len(tunnels)} tunnels in all")
PY
echo
echo "demo: proxy log"
sed 's/^/  /' "$work/proxy.log" | tail -n 8

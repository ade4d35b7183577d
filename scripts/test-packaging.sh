#!/usr/bin/env bash
# Checks every way of installing the proxy:
#   1. builds the Debian package, installs it on this machine (root only), runs the installed
#      binary against the emulator with psql, and removes the package again;
#   2. verifies the systemd unit with systemd-analyze;
#   3. validates the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate
#      from PyPI, in a throwaway virtualenv).
# Not part of the fast tier (it needs a second, static release build); run it before releases.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh
need=()
for p in dpkg-dev help2man python3-venv; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/alloydb-pkg.XXXXXX)
chmod 0755 "$work"
pids=()
installed=no
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/pg-throwaway.sh stop "$work/pg" 2>/dev/null || true
    if [ "$installed" = yes ]; then dpkg -r alloydb-auth-proxy >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== Debian package"
scripts/build-deb.sh "$work/dist"
deb=$(ls "$work"/dist/*.deb)
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Depends\):/  \1:/p'
dpkg-deb --contents "$deb" | awk '{print "  " $6}'

if [ "$(id -u)" -ne 0 ]; then
    echo "test-packaging: not root; skipping the install and run steps"
else
    dpkg -i "$deb" >/dev/null
    installed=yes
    /usr/bin/alloydb-auth-proxy --version

    swift build -c release --product alloydb-emulator 2>&1 | grep -E 'error|complete!'
    emulator="$(swift build -c release --show-bin-path)/alloydb-emulator"
    pg_port=$(free_port)
    scripts/pg-throwaway.sh start "$work/pg" "$pg_port"
    instance=projects/pkg/locations/r/clusters/c/instances/i
    "$emulator" serve --state-dir "$work/emulator" --instance "$instance=127.0.0.3" \
        --postgres "127.0.0.1:$pg_port" >"$work/emulator.log" 2>&1 &
    pids+=($!)
    wait_for_file "$work/emulator/emulator.json" 30
    api=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['apiEndpoint'])" \
        "$work/emulator/emulator.json")
    port=$(free_port)
    /usr/bin/alloydb-auth-proxy --port "$port" --alloydbadmin-api-endpoint "$api" \
        --credentials-file "$work/emulator/service-account.json" "$instance" >"$work/proxy.log" 2>&1 &
    proxy=$!
    pids+=($proxy)
    wait_for_port 127.0.0.1 "$port" 30
    answer=$(psql "host=127.0.0.1 port=$port user=postgres sslmode=disable" -tAc "SELECT 6 * 7")
    [ "$answer" = 42 ] || { echo "unexpected answer: $answer"; cat "$work/proxy.log"; exit 1; }
    echo "  the installed binary served a query: 6 * 7 = $answer"
    kill -TERM "$proxy"
    status=0
    wait "$proxy" || status=$?
    [ "$status" -eq 143 ] || { echo "the installed proxy exited $status on SIGTERM, not 143"; exit 1; }
    echo "  SIGTERM: exit 143"

    echo "== systemd unit"
    systemd-analyze verify /lib/systemd/system/alloydb-auth-proxy.service
    echo "  systemd-analyze verify: ok"
fi

echo "== Kubernetes manifests"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q kubernetes-validate
"$work/venv/bin/kubernetes-validate" --strict packaging/kubernetes/*.yaml
echo "test-packaging: all checks passed"

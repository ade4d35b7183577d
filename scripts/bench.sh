#!/usr/bin/env bash
# Relay benchmark: this proxy against HAProxy, stunnel and nginx (and a Go crypto/tls relay when
# `go` is installed), all on loopback in one run, plus the reactor micro-benchmark.
#
#   scripts/bench.sh [--quick] [--json out.json] [other proxy-bench flags]
#
# Installs the peers from Debian packages when missing (without starting their services),
# builds everything in release mode and runs proxy-bench. See docs/BENCHMARKS.md.
# BENCH_SCRATCH=DIR builds into DIR instead of .build.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

# Which Debian packages provide what is missing.
missing=()
have haproxy || missing+=(haproxy)
have stunnel4 || have stunnel || missing+=(stunnel4)
if ! have nginx; then
    if apt-cache show nginx-light >/dev/null 2>&1; then missing+=(nginx-light); else missing+=(nginx); fi
fi
# Debian builds the stream module as a loadable module in its own package.
stream_module=/usr/lib/nginx/modules/ngx_stream_module.so
if [ ! -e "$stream_module" ] && apt-cache show libnginx-mod-stream >/dev/null 2>&1; then
    missing+=(libnginx-mod-stream)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "bench: installing ${missing[*]}"
    # A policy-rc.d that answers 101 keeps the packages from starting their system services;
    # the benchmark runs each binary itself with its own config on loopback ports.
    policy=/usr/sbin/policy-rc.d
    placed_policy=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        placed_policy=yes
    fi
    status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}" >/tmp/bench-apt.log 2>&1 || status=$?
    if [ "$placed_policy" = yes ]; then as_root rm -f "$policy"; fi
    if [ "$status" -ne 0 ]; then
        echo "bench: apt-get install failed (see /tmp/bench-apt.log); missing peers will be skipped"
    fi
fi
have perf || echo "bench: perf is not installed; syscalls are counted from /proc/<pid>/io only"
have go || echo "bench: go is not installed; the Go relay path is skipped"

build=(swift build -c release)
if [ -n "${BENCH_SCRATCH:-}" ]; then build+=(--scratch-path "$BENCH_SCRATCH"); fi
echo "bench: building (release)"
"${build[@]}" 2>&1 | grep -E 'error|warning:|Build complete' | tail -n 5
bin=$("${build[@]}" --show-bin-path)
for product in proxy-bench alloydb-auth-proxy alloydb-emulator; do
    [ -x "$bin/$product" ] || { echo "bench: $bin/$product was not built"; exit 1; }
done

# 20,000 descriptors is the budget the scenarios are sized for; take what the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$bin/proxy-bench" all --bin-dir "$bin" "$@"

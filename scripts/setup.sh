#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12, and nothing already present.
# Idempotent: a second run only checks. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
    libssl-dev            # OpenSSL 3: TLS, keys, certificates
    libcurl4-openssl-dev  # Admin API and token endpoints
    libmicrohttpd-dev     # the emulator's Admin API and the proxy's HTTP endpoints
    libyaml-dev           # YAML configuration files (--config-file)
    postgresql            # the real server behind the emulator in the demo and tests
    postgresql-client     # psql and pgbench
    python3               # small helpers in the scripts (free ports, JSON)
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian postgresql package may start a default cluster; nothing here uses it, and the tests
# start their own throwaway clusters on free ports.
if ! command -v swift >/dev/null 2>&1; then
    echo "setup: the Swift toolchain (6.x) is not on PATH; install it from swift.org first" >&2
    exit 1
fi
echo "setup: all dependencies present"

#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster on loopback, for the demo and the tests.
#   pg-throwaway.sh start DIR PORT   -> initdb in DIR, listen on 127.0.0.1:PORT, trust auth
#   pg-throwaway.sh stop DIR
# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

cmd=${1:?usage: pg-throwaway.sh start DIR PORT | stop DIR}
dir=${2:?missing DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "pg-throwaway: no PostgreSQL server found; run scripts/setup.sh" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    port=${3:?missing PORT}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        chmod 700 "$dir"
        runuser -u postgres -- test -x "$dir" || {
            echo "pg-throwaway: the postgres user cannot reach $dir; make its parent directories traversable (chmod o+x)" >&2
            exit 1
        }
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "pg-throwaway: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg-throwaway.sh start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

# Shared helpers for the demo and test scripts. Source it; it defines functions only.

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for_file FILE SECONDS: waits until FILE exists, or fails after SECONDS.
wait_for_file() {
    local file=$1 limit=$2 i=0
    while [ ! -s "$file" ]; do
        sleep 0.1
        i=$((i + 1))
        if [ "$i" -ge $((limit * 10)) ]; then return 1; fi
    done
}

# wait_for_port HOST PORT SECONDS: waits until a TCP connect to HOST:PORT succeeds.
wait_for_port() {
    local host=$1 port=$2 limit=$3 i=0
    until python3 -c "import socket,sys; socket.create_connection(('$host',$port),0.2).close()" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
        if [ "$i" -ge $((limit * 10)) ]; then return 1; fi
    done
}

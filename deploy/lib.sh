# shellcheck shell=bash
# Shell helpers shared by the deployment tests (deploy/*/test.sh), sourced
# after the script defines `say MESSAGE`:
#
#   . "$root/deploy/lib.sh"

# skip WHY: exits 0 with SKIP, when what the test needs cannot be had. Under
# CI a skip would pass what was never tried: it fails instead.
skip() {
    [ -z "${CI:-}" ] || { say "FAIL (CI is set, no skipping): $*"; exit 1; }
    say "SKIP: $*"
    exit 0
}

# wait_for WHAT PID TRIES COMMAND...: runs COMMAND every 0.05 s until it
# succeeds; fails when PID dies or after TRIES attempts.
wait_for() {
    local what=$1 pid=$2 tries=$3
    shift 3
    local i
    for ((i = 0; i < tries; i++)); do
        if "$@" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || {
            say "$what exited while starting"
            return 1
        }
        sleep 0.05
    done
    say "$what was not ready after $((tries / 20)) s"
    return 1
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1"
}

# substitute FILE SED-EXPRESSION PATTERN: applies the expression to FILE,
# insisting that PATTERN (a grep -E) matched exactly one line first, so a
# change to the configuration that the test no longer understands fails
# loudly.
substitute() {
    local file=$1 expression=$2 pattern=$3 count
    count=$(grep -cE "$pattern" "$file" || true)
    if [ "$count" != 1 ]; then
        say "$(basename "$file"): expected exactly one line matching '$pattern', found $count"
        exit 1
    fi
    sed -i -E "$expression" "$file"
}

# quote FILE...: the files' lines through `say`, indented (missing files
# are passed over).
quote() {
    local line
    cat "$@" 2>/dev/null | while IFS= read -r line; do say "  $line"; done
}

# run_nginx NAME DIR PORT: checks DIR/nginx.conf, starts nginx on it in the
# foreground as a child (its pid added to the caller's `pids`, the binary
# from `nginx_bin`) and waits until PORT accepts connections. Returns 0 once
# it does, 2 when PORT was taken meanwhile (pick another and call again);
# any other failure exits.
# shellcheck disable=SC2154 # nginx_bin and pids are the caller's
run_nginx() {
    local name=$1 dir=$2 port=$3
    if ! "$nginx_bin" -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/t.err"; then
        say "nginx rejects the configuration:"
        quote "$dir/t.err"
        exit 1
    fi
    "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
        >"$dir/stdout" 2>&1 &
    local pid=$!
    pids+=("$pid")
    if wait_for "nginx $name" "$pid" 100 port_open "$port"; then
        return 0
    fi
    if grep -q 'Address already in use' "$dir/error.log" 2>/dev/null; then
        say "port $port was taken meanwhile; trying another"
        return 2
    fi
    quote "$dir/error.log" "$dir/stdout"
    exit 1
}

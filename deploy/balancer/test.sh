#!/usr/bin/env bash
# Tests deploy/balancer/nginx.conf: nginx as an HTTP load balancer in front
# of two real viewtron-bridge instances and a real mosquitto, on 127.0.0.0/8
# only.
#
#   bash deploy/balancer/test.sh
#
# What it does:
#   - installs nginx and mosquitto when missing (apt-get, as root or with
#     passwordless sudo); when that is impossible it prints SKIP and exits 0
#   - builds viewtron-bridge (release)
#   - starts a private mosquitto on a free port, a recorder subscribed to
#     `viewtron/#` and `homeassistant/#` (mqtt.py), and two bridges (a and b)
#     on free ports, each with `server: {bind: 127.0.0.1, trusted_proxies:
#     [127.0.0.1]}` and its own MQTT client id
#   - starts three nginx instances in front of them, run as the current user
#     with pid, logs and temporary files in a temporary directory: S, the
#     file as shipped (only its ports rewritten); N, the same without
#     `non_idempotent`; R, the same with round robin instead of `hash`
#   - runs the checks (check.py), each printing PASS or FAIL:
#       A  16 cameras of one name on distinct addresses keep distinct ids,
#          through S
#       F1 bridge a killed (SIGKILL) while 16 cameras post through S, and
#          (D) what that does to the entities' availability
#       F2 bridge a restarted, then killed again while the cameras post
#          through N: what `non_idempotent` saves
#       F3 the same through R, and (D) the entities under round robin
#
# Exit status: 0 when every check passed (or on SKIP), 1 on any FAIL or when
# the setup fails.
#
# Environment:
#   VIEWTRON_BALANCER_CONF  the file to test (default deploy/balancer/nginx.conf);
#                           the lines the test rewrites must keep their form
#                           (see the file's head comment)
#   VIEWTRON_BALANCER_KEEP  set to 1 to keep the temporary directory (logs,
#                           configs, every MQTT message) after a failed run
set -euo pipefail

conf_src=${VIEWTRON_BALANCER_CONF:-$(dirname "${BASH_SOURCE[0]}")/nginx.conf}
[ -f "$conf_src" ] || {
    echo "test.sh: no such file: $conf_src" >&2
    exit 1
}
conf_src=$(cd "$(dirname "$conf_src")" && pwd)/$(basename "$conf_src")
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
export PYTHONDONTWRITEBYTECODE=1 # check.py imports mqtt.py: no __pycache__ left here
here=$root/deploy/balancer

say() { echo "balancer-test: $*"; }
# skip, wait_for, port_open, substitute
. "$root/deploy/lib.sh"

# ------------------------------------------------------------------ tools

find_tool() { # NAME: its path, on PATH or in /usr/sbin
    command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}

# install PACKAGE...: apt-get install, the first package that installs wins.
install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        skip "$1 is not installed and there is no apt-get to install it"
    fi
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            skip "$1 is not installed, and installing it needs root (or passwordless sudo)"
        fi
    fi
    say "installing $1 (apt-get)"
    local log package
    log=$(mktemp)
    "${as_root[@]}" apt-get update -qq >"$log" 2>&1 || true
    for package in "$@"; do
        if "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" \
            >>"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
    done
    tail -n 5 "$log" | sed 's/^/balancer-test:   /'
    rm -f "$log"
    skip "$1 could not be installed"
}

nginx_bin=$(find_tool nginx)
if [ -z "$nginx_bin" ]; then
    install nginx-light nginx
    nginx_bin=$(find_tool nginx)
    [ -n "$nginx_bin" ] || skip "nginx was installed but no nginx binary was found"
fi
mosquitto_bin=$(find_tool mosquitto)
if [ -z "$mosquitto_bin" ]; then
    install mosquitto
    mosquitto_bin=$(find_tool mosquitto)
    [ -n "$mosquitto_bin" ] || skip "mosquitto was installed but no mosquitto binary was found"
fi
command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the checks and is missing"
say "using $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), $("$mosquitto_bin" -h 2>/dev/null | head -n 1 | sed 's/ (build.*//'), $(python3 --version)"

say "building viewtron-bridge (release)"
cargo build --release --quiet -p viewtron-bridge
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bridge_bin=$target_dir/release/viewtron-bridge
[ -x "$bridge_bin" ] || {
    say "no $bridge_bin after the build"
    exit 1
}

# ------------------------------------------------------------------ cleanup

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-balancer.XXXXXX")
pids=()
cleanup() {
    local i pid child tries
    # Last started first: nginx, the bridges (which say `offline` to a broker
    # still there), the recorder, mosquitto.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for ((tries = 0; tries < 100; tries++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            for child in $(pgrep -P "$pid" 2>/dev/null || true); do
                kill -KILL "$child" 2>/dev/null || true
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [ "${VIEWTRON_BALANCER_KEEP:-}" = 1 ] && [ "${failed:-1}" != 0 ]; then
        say "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

healthy() { # PORT: GET /healthz answers 200 (serving, broker connected)
    python3 -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/healthz")
sys.exit(0 if c.getresponse().status == 200 else 1)' "$1"
}

free_port() { python3 "$here/check.py" free-port; }

# ------------------------------------------------------------------ start

start=$SECONDS

# mosquitto, private, on loopback.
mkdir -p "$tmp/mosquitto"
for _ in 1 2 3; do
    broker_port=$(free_port)
    {
        echo "listener $broker_port 127.0.0.1"
        echo "allow_anonymous true"
        echo "persistence false"
    } >"$tmp/mosquitto/mosquitto.conf"
    "$mosquitto_bin" -c "$tmp/mosquitto/mosquitto.conf" >"$tmp/mosquitto/log" 2>&1 &
    mosquitto_pid=$!
    pids+=("$mosquitto_pid")
    if wait_for "mosquitto" "$mosquitto_pid" 100 port_open "$broker_port"; then
        break
    fi
    broker_port=
done
[ -n "$broker_port" ] || {
    sed 's/^/balancer-test:   /' "$tmp/mosquitto/log"
    exit 1
}
say "mosquitto on 127.0.0.1:$broker_port"

# The recorder: every message the bridges publish, one JSON line each.
messages=$tmp/messages.jsonl
: >"$messages"
(cd "$here" && exec python3 mqtt.py record "$broker_port" "$messages" "$tmp/recorder.ready" \
    'viewtron/#' 'homeassistant/#') 2>"$tmp/recorder.err" &
recorder_pid=$!
pids+=("$recorder_pid")
wait_for "the MQTT recorder" "$recorder_pid" 200 test -s "$tmp/recorder.ready" || {
    cat "$tmp/recorder.err"
    exit 1
}

# start_bridge NAME [PORT]: writes $tmp/NAME/config.yaml and starts the
# bridge on PORT (a free one when not given); sets bridge_port, bridge_pid.
start_bridge() {
    local name=$1 port=${2:-} dir=$tmp/$1 attempt
    mkdir -p "$dir"
    for attempt in 1 2 3; do
        [ -n "${2:-}" ] || port=$(free_port)
        cat >"$dir/config.yaml" <<EOF
# generated by deploy/balancer/test.sh
bridge_port: $port
save_images: false
mqtt:
  enabled: true
  broker: 127.0.0.1
  port: $broker_port
  client_id: balancer-test-$name
server:
  bind: 127.0.0.1
  trusted_proxies: [127.0.0.1]
EOF
        env -u BRIDGE_PORT -u MQTT_BROKER -u MQTT_PORT -u MQTT_USERNAME -u MQTT_PASSWORD \
            -u SAVE_IMAGES "$bridge_bin" --config "$dir/config.yaml" >>"$dir/log" 2>&1 &
        bridge_pid=$!
        # Not a job of this shell: check.py kills bridge a on purpose, and
        # bash would report that as "Killed".
        disown "$bridge_pid"
        pids+=("$bridge_pid")
        bridge_port=$port
        if wait_for "bridge $name" "$bridge_pid" 200 healthy "$port"; then
            return 0
        fi
        if [ "$attempt" -lt 3 ] && grep -qi 'in use' "$dir/log"; then
            say "port $port was taken; trying again"
            continue
        fi
        tail -n 15 "$dir/log" | sed 's/^/balancer-test:   /'
        exit 1
    done
    exit 1
}

start_bridge a
a_port=$bridge_port a_pid=$bridge_pid
start_bridge b
b_port=$bridge_port b_pid=$bridge_pid
say "bridges: a on 127.0.0.1:$a_port (pid $a_pid), b on 127.0.0.1:$b_port (pid $b_pid)"

# start_nginx NAME [SED-EXPRESSION PATTERN]...: an nginx prefix in $tmp/NAME
# around a copy of nginx.conf (ports rewritten, plus any extra
# substitutions), nginx in the foreground as a child; sets nginx_port.
start_nginx() {
    local name=$1
    shift
    local dir=$tmp/$name
    mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
    for _ in 1 2 3; do
        nginx_port=$(free_port)
        cp "$conf_src" "$dir/balancer.conf"
        substitute "$dir/balancer.conf" "s/^([[:space:]]*)listen 5002 /\\1listen 127.0.0.1:$nginx_port /" \
            '^[[:space:]]*listen 5002 '
        substitute "$dir/balancer.conf" "s/^([[:space:]]*)server 192\\.168\\.1\\.21:5002 /\\1server 127.0.0.1:$a_port /" \
            '^[[:space:]]*server 192\.168\.1\.21:5002 '
        substitute "$dir/balancer.conf" "s/^([[:space:]]*)server 192\\.168\\.1\\.22:5002 /\\1server 127.0.0.1:$b_port /" \
            '^[[:space:]]*server 192\.168\.1\.22:5002 '
        local args=("$@")
        while ((${#args[@]})); do
            substitute "$dir/balancer.conf" "${args[0]}" "${args[1]}"
            args=("${args[@]:2}")
        done
        {
            echo "# generated by deploy/balancer/test.sh"
            [ "$(id -u)" -ne 0 ] || echo "user $(id -un) $(id -gn);"
            echo "worker_processes 1;"
            echo "pid $dir/nginx.pid;"
            echo "error_log $dir/error.log info;"
            echo "events { worker_connections 1024; }"
            echo "http {"
            # Which bridge(s) each post went to: X-Post is the test's plate.
            echo "    log_format balancer '\$http_x_post|\$status|\$upstream_addr|\$upstream_status';"
            echo "    access_log $dir/access.log balancer;"
            for temp in client_body proxy fastcgi uwsgi scgi; do
                echo "    ${temp}_temp_path $dir/$temp;"
            done
            echo "    include $dir/balancer.conf;"
            echo "}"
        } >"$dir/nginx.conf"
        # 2: the port was taken meanwhile; another one.
        run_nginx "$name" "$dir" "$nginx_port" && return 0
    done
    say "nginx $name found no free port"
    exit 1
}

start_nginx s
s_port=$nginx_port
say "nginx S (nginx.conf as shipped) on 127.0.0.1:$s_port -> bridges a, b"
start_nginx n \
    's/^([[:space:]]*proxy_next_upstream error timeout) non_idempotent;/\1;/' \
    '^[[:space:]]*proxy_next_upstream error timeout non_idempotent;'
n_port=$nginx_port
say "nginx N (without non_idempotent) on 127.0.0.1:$n_port -> bridges a, b"
start_nginx r \
    's/^([[:space:]]*)hash \$remote_addr consistent;/\1# round robin/' \
    '^[[:space:]]*hash \$remote_addr consistent;'
r_port=$nginx_port
say "nginx R (round robin instead of hash \$remote_addr) on 127.0.0.1:$r_port -> bridges a, b"

# ------------------------------------------------------------------ checks

failures=0
cameras=16
posts=30
common=(broker="$broker_port" messages="$messages" a_port="$a_port" b_port="$b_port"
    a_client=balancer-test-a b_client=balancer-test-b cameras="$cameras")
check() { # MODE KEY=VALUE...: one check.py run; its FAILs count once
    (cd "$here" && python3 check.py "$@") || failures=$((failures + 1))
}

# restart_a: bridge a again, on its port, once the killed one has let it go.
restart_a() {
    if ! wait_for "bridge a's old port to close" "$b_pid" 100 eval '! port_open '"$a_port"; then
        echo "FAIL  bridge a's port stayed open after the kill"
        failures=$((failures + 1))
        return 1
    fi
    start_bridge a "$a_port"
    a_pid=$bridge_pid
    say "bridge a restarted on 127.0.0.1:$a_port (pid $a_pid)"
}

echo "-- A: camera identities through the balancer (S)"
check identities "${common[@]}" nginx="$s_port" access_log="$tmp/s/access.log" label=A posts=4

echo "-- F1: bridge a killed while $cameras cameras post through S (as shipped)"
check failover "${common[@]}" nginx="$s_port" access_log="$tmp/s/access.log" label=F1 \
    posts="$posts" a_pid="$a_pid" retry=on
check discovery "${common[@]}" label=F1 pinned=on

echo "-- F2: the same through N (without non_idempotent)"
if restart_a; then
    check failover "${common[@]}" nginx="$n_port" access_log="$tmp/n/access.log" label=F2 \
        posts="$posts" a_pid="$a_pid" retry=off
fi

echo "-- F3: the same through R (round robin)"
if restart_a; then
    check failover "${common[@]}" nginx="$r_port" access_log="$tmp/r/access.log" label=F3 \
        posts="$posts" a_pid="$a_pid" retry=on
    check discovery "${common[@]}" label=F3 pinned=off
fi

if ((failures)); then
    for name in a b; do
        echo "-- bridge $name log (last 10 lines)"
        tail -n 10 "$tmp/$name/log" 2>/dev/null | cat -v || true
    done
    for name in s n r; do
        echo "-- nginx $name error log (warnings and errors, last 10)"
        grep -E '\[(warn|error|crit|alert|emerg)\]' "$tmp/$name/error.log" 2>/dev/null | tail -n 10 | cat -v || true
    done
    say "FAILED ($((SECONDS - start))s after the build)"
    exit 1
fi
failed=0
say "all checks passed ($((SECONDS - start))s after the build)"

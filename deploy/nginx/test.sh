#!/usr/bin/env bash
# Tests deploy/nginx/viewtron.conf against a real nginx, in front of the
# crate's `listen --json` (examples/listen.rs), on 127.0.0.0/8 only.
#
#   bash deploy/nginx/test.sh
#
# What it does:
#   - installs nginx when missing (apt-get, as root or with passwordless sudo);
#     when that is impossible it prints SKIP and exits 0
#   - builds the listen and simulate examples (release)
#   - starts `listen --json --trusted-proxy 127.0.0.1` on a free port, and
#     nginx instance A: viewtron.conf as shipped, only its two ports
#     rewritten, run as the current user with pid, logs and temp files in a
#     temporary directory
#   - starts instance B: the same file with the total cap lowered to 3 and the
#     three 150 s timeouts lowered to 2 s, in front of a recording stand-in
#     upstream (Python), so the total cap, the timeouts and what viewtron
#     receives (X-Forwarded-For, re-framed bodies) can be checked in seconds
#   - runs the checks (deploy/nginx/helper.py), each printing PASS or FAIL,
#     then stops listen and compares the events it printed with the number of
#     posts answered 200
#
# Exit status: 0 when every check passed (or on SKIP), 1 on any FAIL or when
# the setup fails.
#
# Environment:
#   VIEWTRON_NGINX_CONF  the file to test (default deploy/nginx/viewtron.conf),
#                        e.g. your edited copy; the lines the test rewrites
#                        must keep their form (see the file's head comment)
set -euo pipefail

conf_src=${VIEWTRON_NGINX_CONF:-$(dirname "${BASH_SOURCE[0]}")/viewtron.conf}
[ -f "$conf_src" ] || {
    echo "test.sh: no such file: $conf_src" >&2
    exit 1
}
conf_src=$(cd "$(dirname "$conf_src")" && pwd)/$(basename "$conf_src")
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
here=$root/deploy/nginx

say() { echo "nginx-test: $*"; }
# skip, wait_for, port_open, substitute
. "$root/deploy/lib.sh"

# ------------------------------------------------------------------ tools

find_nginx() {
    command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

nginx_bin=$(find_nginx)
if [ -z "$nginx_bin" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        skip "nginx is not installed and there is no apt-get to install it"
    fi
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            skip "nginx is not installed, and installing it needs root (or passwordless sudo)"
        fi
    fi
    say "installing nginx (apt-get)"
    install_log=$(mktemp)
    if ! { "${as_root[@]}" apt-get update -qq &&
        { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light ||
            "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }; } \
        >"$install_log" 2>&1; then
        tail -n 5 "$install_log" | sed 's/^/nginx-test:   /'
        rm -f "$install_log"
        skip "nginx could not be installed"
    fi
    rm -f "$install_log"
    nginx_bin=$(find_nginx)
    [ -n "$nginx_bin" ] || skip "nginx was installed but no nginx binary was found"
fi
command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the checks and is missing"
say "using $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), $(python3 --version)"

say "building the listen and simulate examples (release)"
cargo build --release --quiet --example listen --example simulate
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target_dir/release/examples

# ------------------------------------------------------------------ cleanup

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-nginx.XXXXXX")
pids=()
cleanup() {
    local pid child tries
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for ((tries = 0; tries < 50; tries++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            for child in $(pgrep -P "$pid" 2>/dev/null || true); do
                kill -KILL "$child" 2>/dev/null || true
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

# start_nginx NAME UPSTREAM_PORT [SED-EXPRESSION PATTERN]...: writes an nginx
# prefix in $tmp/NAME around a copy of viewtron.conf (ports rewritten, plus
# any extra substitutions), starts nginx in the foreground as a child and
# sets nginx_port.
start_nginx() {
    local name=$1 upstream=$2
    shift 2
    local dir=$tmp/$name
    mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
    for _ in 1 2 3; do
        nginx_port=$(python3 "$here/helper.py" free-port)
        cp "$conf_src" "$dir/viewtron.conf"
        substitute "$dir/viewtron.conf" "s/^([[:space:]]*)listen 5050 /\\1listen 127.0.0.1:$nginx_port /" \
            '^[[:space:]]*listen 5050 '
        substitute "$dir/viewtron.conf" "s/^([[:space:]]*)server 127\\.0\\.0\\.1:5051;/\\1server 127.0.0.1:$upstream;/" \
            '^[[:space:]]*server 127\.0\.0\.1:5051;'
        local args=("$@")
        while ((${#args[@]})); do
            substitute "$dir/viewtron.conf" "${args[0]}" "${args[1]}"
            args=("${args[@]:2}")
        done
        {
            echo "# generated by deploy/nginx/test.sh"
            [ "$(id -u)" -ne 0 ] || echo "user $(id -un) $(id -gn);"
            echo "worker_processes 1;"
            echo "worker_rlimit_nofile 8192;"
            echo "pid $dir/nginx.pid;"
            echo "error_log $dir/error.log info;"
            echo "events { worker_connections 4096; }"
            echo "http {"
            echo "    log_format test '\$remote_addr \"\$request\" \$status in=\$request_length up=\$upstream_addr/\$upstream_status conn=\$connection/\$connection_requests';"
            echo "    access_log $dir/access.log test;"
            for temp in client_body proxy fastcgi uwsgi scgi; do
                echo "    ${temp}_temp_path $dir/$temp;"
            done
            echo "    include $dir/viewtron.conf;"
            echo "}"
        } >"$dir/nginx.conf"
        # 2: the port was taken meanwhile; another one.
        run_nginx "$name" "$dir" "$nginx_port" && return 0
    done
    say "nginx $name found no free port"
    exit 1
}

# ------------------------------------------------------------------ start

start=$SECONDS

# viewtron behind instance A: `listen --json`, trusting nginx's
# X-Forwarded-For, so that each client's own address can be checked.
"$bin/listen" --json --bind 127.0.0.1 --port 0 --trusted-proxy 127.0.0.1 \
    >"$tmp/listen.out" 2>"$tmp/listen.err" &
listen_pid=$!
pids+=("$listen_pid")
listen_port=
find_listen_port() {
    listen_port=$(grep -om1 'Listening on http://127\.0\.0\.1:[0-9]*' "$tmp/listen.err" | grep -o '[0-9]*$')
    [ -n "$listen_port" ]
}
wait_for "listen" "$listen_pid" 200 find_listen_port || exit 1
say "listen --json --trusted-proxy 127.0.0.1 on 127.0.0.1:$listen_port"

: >"$tmp/recorder.log"
python3 "$here/helper.py" recorder "$tmp/recorder.port" "$tmp/recorder.log" 120 \
    2>"$tmp/recorder.err" &
recorder_pid=$!
pids+=("$recorder_pid")
wait_for "recorder" "$recorder_pid" 200 test -s "$tmp/recorder.port" || exit 1
recorder_port=$(cat "$tmp/recorder.port")

perip=$(grep -oE '^[[:space:]]*limit_conn viewtron_perip [0-9]+;' "$conf_src" | grep -oE '[0-9]+')
[ -n "$perip" ] || {
    say "viewtron.conf: no 'limit_conn viewtron_perip N;' line"
    exit 1
}

start_nginx a "$listen_port"
a_port=$nginx_port
say "nginx A (viewtron.conf as shipped) on 127.0.0.1:$a_port -> listen"

b_rate=10
b_burst=3
b_timeout=2
start_nginx b "$recorder_port" \
    "s/^(limit_req_zone .* rate=)[0-9]+r\/s;/\\1${b_rate}r\/s;/" \
    '^limit_req_zone .* rate=[0-9]+r/s;' \
    "s/^([[:space:]]*limit_req zone=viewtron_rate) .*;/\\1 burst=$b_burst;/" \
    '^[[:space:]]*limit_req zone=viewtron_rate .*;' \
    "s/^([[:space:]]*client_header_timeout) 150s;/\\1 ${b_timeout}s;/" \
    '^[[:space:]]*client_header_timeout 150s;' \
    "s/^([[:space:]]*client_body_timeout) 150s;/\\1 ${b_timeout}s;/" \
    '^[[:space:]]*client_body_timeout 150s;' \
    "s/^([[:space:]]*keepalive_timeout) 150s;/\\1 ${b_timeout}s;/" \
    '^[[:space:]]*keepalive_timeout 150s;'
b_port=$nginx_port
say "nginx B (rate ${b_rate}r/s, burst $b_burst, timeouts ${b_timeout}s) on 127.0.0.1:$b_port -> recorder"

# ------------------------------------------------------------------ checks

failures=0
pass() { echo "PASS  $*"; }
fail() {
    echo "FAIL  $*"
    failures=$((failures + 1))
}

camera_post=$root/tests/fixtures/v1-lpr-vehice.xml
nvr_post=$root/tests/fixtures/v2-lpr-vehicle.xml
sim_ok=0

# simulate CHECK-NAME N ARGS...: N posts through A with examples/simulate/.
simulate() {
    local name=$1 n=$2 line ok
    shift 2
    line=$(timeout 30 "$bin/simulate" --quiet -n "$n" "$@" 2>"$tmp/sim.err" | tail -n 1) || true
    ok=$(grep -oE '(^| )ok=[0-9]+' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    sim_ok=$((sim_ok + ok))
    if [[ $line == *"ok=$n errors=0"* ]]; then
        pass "$name: simulate: $line"
    else
        fail "$name: simulate: ${line:-no report} $(tail -n 3 "$tmp/sim.err")"
    fi
}

echo "-- examples/simulate/ through instance A"
simulate "1 cameras (simulate)" 200 -c 4 "http://127.0.0.1:$a_port/API" "$camera_post" "$nvr_post"
simulate "2 NVR (simulate)" 20 --close --absolute --soap "http://127.0.0.1:$a_port/API" "$nvr_post"

checks_status=0
python3 "$here/helper.py" checks a_port="$a_port" b_port="$b_port" listen_port="$listen_port" \
    listen_out="$tmp/listen.out" \
    perip="$perip" b_rate="$b_rate" b_burst="$b_burst" b_timeout="$b_timeout" \
    recorder_log="$tmp/recorder.log" camera_post="$camera_post" nvr_post="$nvr_post" \
    ok_file="$tmp/ok_posts" || checks_status=$?
if ((checks_status != 0)); then
    failures=$((failures + 1)) # the checks printed their own FAIL lines
fi

# ------------------------------------------------------------------ (H) hostile

hostile_status=0
python3 "$here/hostile.py" a_port="$a_port" listen_port="$listen_port" listen_pid="$listen_pid" \
    listen_out="$tmp/listen.out" ok_file="$tmp/hostile_ok" || hostile_status=$?
if ((hostile_status != 0)); then
    failures=$((failures + 1)) # the checks printed their own FAIL lines
fi
sim_ok=$((sim_ok + $(cat "$tmp/hostile_ok" 2>/dev/null || echo 0)))

# ------------------------------------------------------------------ (8) burst

echo "-- 1,000 cameras posting in step through instance A"
burst_cameras=1000
burst_addresses=250
burst_seconds=10
burst_line=$(timeout $((burst_seconds + 90)) python3 "$here/burst.py" "$a_port" "$camera_post" \
    --cameras "$burst_cameras" --addresses "$burst_addresses" --seconds "$burst_seconds" \
    --first-address 127.0.1.1 2>"$tmp/burst.err" | tail -n 1) || true
burst_ok=$(grep -oE ' ok=[0-9]+' <<<"$burst_line" | grep -oE '[0-9]+' || echo 0)
sim_ok=$((sim_ok + burst_ok))
burst_posts=$((burst_cameras * burst_seconds))
if ((burst_ok == burst_posts)); then
    pass "8 a burst of the supported scale: $burst_cameras cameras on $burst_addresses addresses (127.0.1.x, $((burst_cameras / burst_addresses)) each), posting once a second in step for ${burst_seconds}s: $burst_line"
else
    fail "8 a burst of the supported scale: ${burst_line:-no report} $(tail -n 3 "$tmp/burst.err")"
fi

# ------------------------------------------------------------------ (7) count

echo "-- what reached viewtron"
expected=$(($(cat "$tmp/ok_posts" 2>/dev/null || echo 0) + sim_ok))
kill -TERM "$listen_pid" 2>/dev/null || true
wait "$listen_pid" 2>/dev/null || true
events=$(grep -c '^{"kind":"event"' "$tmp/listen.out" || true)
refusals=$(grep -c 'refused' "$tmp/listen.err" || true)
if [ "$events" = "$expected" ] && [ "$refusals" = 0 ]; then
    pass "7 viewtron's count: listen printed $events events; $expected posts were answered 200 (through nginx, and directly in C2), and viewtron refused nothing: whatever nginx refused never reached it"
else
    fail "7 viewtron's count: listen printed $events events and logged $refusals refusals, but $expected posts were answered 200"
    grep 'refused' "$tmp/listen.err" | head -n 5 | sed 's/^/nginx-test:   /'
fi
burst_sources=$(grep -oE '^\{"kind":"connect","camera_ip":"127\.0\.1\.[0-9]+"' "$tmp/listen.out" | sort -u | wc -l)
if [ "$burst_sources" = "$burst_addresses" ]; then
    pass "8 each camera known by its address: listen saw the burst's cameras as $burst_sources distinct addresses (X-Forwarded-For from nginx)"
else
    fail "8 each camera known by its address: listen saw $burst_sources of the burst's $burst_addresses addresses"
fi

if ((failures)); then
    echo "-- listen's standard error (last 15 lines)"
    tail -n 15 "$tmp/listen.err" 2>/dev/null | cat -v || true
    for name in a b; do
        echo "-- nginx $name error log (last 15 lines)"
        tail -n 15 "$tmp/$name/error.log" 2>/dev/null | cat -v || true
        echo "-- nginx $name access log (last 15 lines)"
        tail -n 15 "$tmp/$name/access.log" 2>/dev/null | cat -v || true
    done
    say "FAILED ($((SECONDS - start))s)"
    exit 1
fi
say "all checks passed ($((SECONDS - start))s)"

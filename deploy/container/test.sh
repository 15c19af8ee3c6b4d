#!/usr/bin/env bash
# Tests the viewtron-bridge container image for real, with podman, on
# 127.0.0.0/8 only:
#
#   bash deploy/container/test.sh
#
# What it does:
#   - installs what is missing with apt-get (as root or with passwordless
#     sudo): podman and runc, musl-tools (build.sh's C compiler for ring),
#     tzdata (the zone database the image carries);
#     when podman cannot be installed it prints SKIP and exits 0
#   - builds the static binary and the image (deploy/container/build.sh,
#     this host's architecture), under a name of its own
#   - starts a private mosquitto on a free loopback port and a mosquitto_sub
#     on it
#   - runs the image as the vendor's is run: --network host and its
#     variables (BRIDGE_PORT, MQTT_BROKER, MQTT_PORT, SAVE_IMAGES, TZ), no
#     config file; and with a read-only root (/data is a volume)
#   - checks, each failing the script with its own message: /healthz 200;
#     `online` on the availability topic; a camera post (tests/fixtures/
#     v1-lpr-vehice.xml) answered, its discovery configs (retained) and state
#     message on the broker, the camera's time in TZ=Europe/Berlin (the
#     image's zone database), its images saved under /data/images; `podman
#     healthcheck run` healthy (the image's HEALTHCHECK, viewtron-bridge
#     --health); the process runs as uid/gid 65532; `podman stop` (SIGTERM)
#     ends it with status 0 and `offline` on the availability topic
#   - measures and prints the image size and the bridge process's VmRSS
#     (/proc/PID/status on the host): idle, and with 8 keep-alive
#     connections posting the fixture (deploy/container/load.py)
#   - the Home Assistant app: builds home-assistant/viewtron-bridge/
#     Dockerfile FROM the image above (podman build --format docker
#     --pull=never --build-arg BASE=...); writes /data/options.json as the
#     Supervisor writes it from config.yaml's options (app_options.py), with
#     a free bridge_port and mqtt_broker "auto"; starts a second mosquitto
#     that takes logins only, and a fake Supervisor (fake_supervisor.py)
#     whose GET /services/mqtt, with the app's token, names that broker and
#     a login; runs the app image with --network host, options.json mounted
#     read-only, /share, SUPERVISOR_TOKEN and VIEWTRON_SUPERVISOR_URL (and
#     the vendor's BRIDGE_PORT/MQTT_* pointing elsewhere, to be ignored).
#     Checks: /healthz 200 on the options' port; the Supervisor asked with
#     the token; the bridge logged in with the Supervisor's login, `online`;
#     a camera post gives discovery configs and the state message; `podman
#     healthcheck run` healthy without asking the Supervisor; `podman stop`
#     exit 0 and `offline`. Then the vendor's six options (broker
#     127.0.0.1, a login typed in, save_images true): logged in with that
#     login, the Supervisor not asked, the state message, images under
#     /share/viewtron/images, a clean stop. Then wrong options
#     (bridge_port "x"; an option the app does not know): the container
#     exits non-zero with one log line, a configuration error
#   - removes the containers, their volumes, the images, the brokers, the
#     fake Supervisor and its temporary folder on exit, whatever happened
#
# Every wait is bounded (polls with a deadline). Exit status: 0 when every
# check passed (or on SKIP), 1 otherwise.
#
# Environment:
#   CONTAINER_RUNTIME  the OCI runtime for podman (default runc when installed:
#                      crun refuses hybrid cgroup v1/v2 hosts)
#   CARGO_TARGET_DIR   as for cargo (build.sh honours it)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
here=$root/deploy/container
fixture=$root/tests/fixtures/v1-lpr-vehice.xml
run_start=$SECONDS

say() { echo "container-test: $*"; }
fail() {
    say "FAIL: $*"
    exit 1
}
pass() { say "PASS: $*"; }
# skip, wait_for, port_open, substitute
. "$root/deploy/lib.sh"

# ------------------------------------------------------------------ tools

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        as_root=(false)
    fi
fi
apt_updated=false
# apt_install PACKAGE...: installs them with apt-get; fails quietly (the
# caller decides) when it cannot.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    local log
    log=$(mktemp)
    say "installing $* (apt-get)"
    if ! $apt_updated; then
        "${as_root[@]}" apt-get update -qq >"$log" 2>&1 || {
            tail -n 5 "$log" | sed 's/^/container-test:   /'
            rm -f "$log"
            return 1
        }
        apt_updated=true
    fi
    if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1; then
        tail -n 5 "$log" | sed 's/^/container-test:   /'
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

if ! command -v podman >/dev/null 2>&1; then
    apt_install podman runc || skip "podman is not installed and could not be installed (apt-get, as root)"
fi
command -v podman >/dev/null 2>&1 || skip "podman was installed but is not on PATH"
# Rootless podman needs subuids, a user session and more; this test runs it
# as root, as CI does (through passwordless sudo when not root).
podman_cmd=(command podman)
engine=podman
if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || skip "podman runs here as root, and this user is not root (nor has passwordless sudo)"
    podman_cmd=(sudo -n podman)
    engine="sudo -n podman"
fi
podman() { "${podman_cmd[@]}" "$@"; }

runtime=${CONTAINER_RUNTIME:-}
if [ -z "$runtime" ]; then
    if ! command -v runc >/dev/null 2>&1 && [ ! -x /usr/sbin/runc ]; then
        apt_install runc || true
    fi
    if command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ]; then
        runtime=runc
    fi
fi
runtime_args=()
[ -z "$runtime" ] || runtime_args=(--runtime "$runtime")

if [ "$(uname -m)" = x86_64 ] && ! command -v musl-gcc >/dev/null 2>&1 && ! command -v x86_64-linux-musl-gcc >/dev/null 2>&1; then
    apt_install musl-tools || fail "build.sh needs musl-gcc (apt-get install musl-tools) for ring's C code"
fi
if [ "$(uname -m)" = aarch64 ] && ! command -v musl-gcc >/dev/null 2>&1 && ! command -v aarch64-linux-musl-gcc >/dev/null 2>&1; then
    apt_install musl-tools || fail "build.sh needs musl-gcc (apt-get install musl-tools) for ring's C code"
fi

# The zone database the image carries (build.sh copies this host's), also
# used here to compute the expected Berlin time.
if [ ! -f /usr/share/zoneinfo/Europe/Berlin ]; then
    apt_install tzdata || fail "the zone database is needed (apt-get install tzdata)"
fi

mosquitto_bin=$(command -v mosquitto 2>/dev/null || true)
for d in /usr/sbin /usr/local/sbin /sbin; do
    [ -n "$mosquitto_bin" ] || { [ -x "$d/mosquitto" ] && mosquitto_bin=$d/mosquitto; } || true
done
if [ -z "$mosquitto_bin" ] || ! command -v mosquitto_sub >/dev/null 2>&1; then
    apt_install mosquitto mosquitto-clients || fail "mosquitto and mosquitto-clients are needed (apt-get install mosquitto mosquitto-clients)"
    mosquitto_bin=$(command -v mosquitto 2>/dev/null || echo /usr/sbin/mosquitto)
fi
for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed and missing"
done
say "using $(command podman --version), runtime ${runtime:-default}, $({ "$mosquitto_bin" -h 2>/dev/null || true; } | head -n 1 | sed 's/ running on.*//')"

# ------------------------------------------------------------------ cleanup

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-container.XXXXXX")
name=viewtron-bridge-test-$$
image=localhost/viewtron-bridge-test:$$
broker_pid=
sub_pid=
# The Home Assistant app's part: its image (FROM the one above), its
# containers, its broker (with a login), subscriber and fake Supervisor.
app_name=viewtron-bridge-app-test-$$
app_image=localhost/viewtron-bridge-app-test:$$
app_containers=("$app_name" "$app_name-vendor" "$app_name-bad-port" "$app_name-bad-key")
app_broker_pid=
app_sub_pid=
supervisor_pid=
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        for c in "$name" "${app_containers[@]}"; do
            podman container exists "$c" 2>/dev/null || continue
            # Stopped cleanly (checked already): nothing to see.
            [ "$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$c" 2>/dev/null)" != "exited 0" ] || continue
            say "the container $c's log (last 30 lines):"
            podman logs --tail 30 "$c" 2>&1 | sed 's/^/    /' || true
        done
    fi
    for c in "$name" "${app_containers[@]}"; do
        podman rm -f -v -t 5 "$c" >/dev/null 2>&1 || true
    done
    podman rmi -f "$app_image" >/dev/null 2>&1 || true
    podman rmi -f "$image" >/dev/null 2>&1 || true
    for pid in $sub_pid $broker_pid $app_sub_pid $app_broker_pid $supervisor_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $sub_pid $broker_pid $app_sub_pid $app_broker_pid $supervisor_pid; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

# within SECONDS WHAT COMMAND...: runs COMMAND every 0.05 s until it
# succeeds; fails the test after SECONDS.
within() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within ${seconds}s"
        sleep 0.05
    done
}

# free_port: a port free on every address (v4 and v6), taken below the
# kernel's ephemeral range when there is room: a port from that range can
# be taken, between this pick and the bridge binding it, as the source port
# of any outgoing connection on the machine.
free_port() {
    python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
candidates = list(range(20000, low)) if low > 21000 else []
random.shuffle(candidates)
for port in candidates[:200] + [0]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        s.bind(("::", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    s.close()
    break
PY
}

healthz_200() {
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$bridge_port/healthz")" = 200 ]
}

# seen PATTERN: the subscriber printed a line matching PATTERN (grep -E).
seen() { grep -a -q -E "$1" "$tmp/sub.log"; }

container_running() {
    [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ]
}

container_exited() {
    [ "$(podman inspect --format '{{.State.Status}}' "$name" 2>/dev/null)" = exited ]
}

vm_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$pid/status"; }

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# ------------------------------------------------------------------ build

say "building the binary and the image (deploy/container/build.sh)"
build_start=$SECONDS
CONTAINER_ENGINE=$engine bash "$here/build.sh" --tag "$image" >"$tmp/build.log" 2>&1 || {
    tail -n 30 "$tmp/build.log" | sed 's/^/    /'
    fail "deploy/container/build.sh failed"
}
grep -E '^container-build: binary' "$tmp/build.log" | sed 's/^container-build: /container-test: /'
say "build took $((SECONDS - build_start))s"
image_bytes=$(podman image inspect --format '{{.Size}}' "$image")
say "image size: $image_bytes bytes ($(mib $((image_bytes / 1024))))"
[ "$(podman image inspect --format '{{.Config.User}}' "$image")" = 65532:65532 ] ||
    fail "the image's user is not 65532:65532"
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")
[[ $healthcheck == *'"--health"'* ]] ||
    fail "the image has no HEALTHCHECK running viewtron-bridge --health (podman build without --format docker?)"

# ------------------------------------------------------------------ broker

broker_port=$(free_port)
bridge_port=$(free_port)
while [ "$bridge_port" = "$broker_port" ]; do bridge_port=$(free_port); done
cat >"$tmp/mosquitto.conf" <<EOF
listener $broker_port 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type all
EOF
"$mosquitto_bin" -c "$tmp/mosquitto.conf" 2>"$tmp/mosquitto.log" &
broker_pid=$!
within 15 "mosquitto accepting on 127.0.0.1:$broker_port" port_open "$broker_port"
kill -0 "$broker_pid" 2>/dev/null || fail "mosquitto exited: $(tail -n 3 "$tmp/mosquitto.log")"

# Everything under viewtron/ and homeassistant/ but the JPEG topics, one line
# per message: retain flag, topic, payload.
mosquitto_sub -h 127.0.0.1 -p "$broker_port" -i "container-test-$$" -q 1 \
    -t 'viewtron/#' -t 'homeassistant/#' \
    -T 'viewtron/+/overview_image' -T 'viewtron/+/target_image' \
    -F '%r %t %p' >"$tmp/sub.log" 2>"$tmp/sub.err" &
sub_pid=$!
within 15 "mosquitto_sub subscribed" grep -q "container-test-$$ 1 homeassistant/#" "$tmp/mosquitto.log"
say "broker on 127.0.0.1:$broker_port, bridge to listen on 127.0.0.1:$bridge_port"

# ------------------------------------------------------------------ run

# podman sets the container's nofile/nproc limits above those it runs with
# itself, which needs CAP_SYS_RESOURCE; keep them at or under ours.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 4096 ] && nofile=4096
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)
# The image's HEALTHCHECK is run on demand here (podman healthcheck run):
# podman's timer for it needs systemd. --read-only: the bridge writes to
# /data (the volume) and nowhere else.
podman run -d --name "$name" "${runtime_args[@]}" "${limits[@]}" \
    --network host --health-interval disable --read-only \
    -e "BRIDGE_PORT=$bridge_port" -e MQTT_BROKER=127.0.0.1 -e "MQTT_PORT=$broker_port" \
    -e SAVE_IMAGES=true -e TZ=Europe/Berlin \
    "$image" >"$tmp/run.log" 2>&1 || {
    sed 's/^/    /' "$tmp/run.log"
    fail "podman run failed"
}
deadline=$((SECONDS + 15))
until container_running; do
    if container_exited; then
        fail "the container exited at start (status $(podman inspect --format '{{.State.ExitCode}}' "$name"))"
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "the container running: not within 15s"
    sleep 0.05
done
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
[[ -n $pid && $pid -gt 0 ]] || fail "no host pid for the container"

within 15 "GET /healthz answering 200 (bridge up, broker connected)" healthz_200
pass "/healthz 200 on 127.0.0.1:$bridge_port (host network)"

availability_re='^[01] viewtron/bridge/[^ /]+/availability'
within 15 "'online' on the availability topic" seen "$availability_re online\$"
availability=$(grep -a -m 1 -E "$availability_re online\$" "$tmp/sub.log" | cut -d' ' -f2)
pass "online on $availability"

uids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$pid/status")
gids=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$pid/status")
[ "$uids" = "65532 65532 65532 65532" ] || fail "the bridge runs with uids $uids, not 65532"
[ "$gids" = "65532 65532 65532 65532" ] || fail "the bridge runs with gids $gids, not 65532"
huser=$(podman top "$name" huser | awk 'NR == 2 { print $1 }')
[ "$huser" = 65532 ] || fail "podman top says the bridge runs as '$huser', not 65532"
pass "the bridge (host pid $pid) runs as uid/gid 65532, not root"

# Idle: started, connected, nothing posted; a second for start-up to settle
# (a measurement, not a wait for anything).
sleep 1
idle_kib=$(vm_kib VmRSS)

# ------------------------------------------------------------------ a camera post

answer=$(curl -sS -m 10 -H 'Content-Type: application/xml' --data-binary "@$fixture" "http://127.0.0.1:$bridge_port/") ||
    fail "posting $(basename "$fixture") failed"
case "$answer" in *"<status>success</status>"*) ;; *) fail "the camera's answer is not success: $answer" ;; esac
pass "camera post answered success"

plate=$(sed -n '/<plateNumber/{s/.*<plateNumber[^>]*><!\[CDATA\[\([^]]*\)\]\]>.*/\1/p;q;}' "$fixture")
[ -n "$plate" ] || fail "no plate number in $fixture"
camera=harbour_gate_lpr_127_0_0_1
within 15 "the plate sensor's discovery config for $camera" \
    seen "^[01] homeassistant/sensor/$camera/plate/config \\{"
within 15 "the image entities' discovery configs" seen "^[01] homeassistant/image/$camera/[a-z_]+/config \\{"
within 15 "the LPR state message with plate '$plate'" seen "^[01] viewtron/$camera/lpr \\{.*\"$plate\""
# TZ=Europe/Berlin: the camera's time in Berlin time, as the vendor's
# str(datetime.fromtimestamp(t)) prints it (the image's zone database).
want_time=$(TZ=Europe/Berlin python3 -c '
import datetime, re, sys
us = int(re.search(rb"<currentTime[^>]*>(\d+)<", open(sys.argv[1], "rb").read()).group(1))
print(datetime.datetime.fromtimestamp(us // 10**6) + datetime.timedelta(microseconds=us % 10**6))
' "$fixture")
got_time=$(python3 -c '
import json, sys
for line in open(sys.argv[1], "rb"):
    flag, topic, payload = line.decode("utf-8", "replace").split(" ", 2)
    if topic == sys.argv[2]:
        print(json.loads(payload).get("timestamp")); break
' "$tmp/sub.log" "viewtron/$camera/lpr")
[ "$got_time" = "$want_time" ] ||
    fail "TZ=Europe/Berlin: the state says timestamp '$got_time', expected '$want_time' (zone database missing from the image?)"
configs=$(grep -a -c -E "^[01] homeassistant/[a-z_]+/$camera/[a-z_]+/config " "$tmp/sub.log" || true)
# Retained, as Home Assistant needs them after its own restart: a new
# subscriber gets them from the broker (it stops after 2 s).
retained=$(mosquitto_sub -h 127.0.0.1 -p "$broker_port" -t "homeassistant/+/$camera/+/config" \
    --retained-only -W 2 -F '%t' 2>/dev/null | grep -c . || true)
[ "$retained" = "$configs" ] || fail "$configs discovery configs published, $retained of them retained"
pass "$configs discovery configs (retained) and the state message (plate $plate, Berlin time $got_time) on the broker"

volume=$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Source}}{{end}}{{end}}' "$name")
[[ -n $volume && -d $volume ]] || fail "no /data volume on the host"
saved() { [ -n "$(find "$volume/images" -type f -name '*.jpg' 2>/dev/null | head -n 1)" ]; }
within 15 "the post's images saved under /data/images" saved
owner=$(stat -c %u:%g "$(find "$volume/images" -type f -name '*.jpg' | head -n 1)")
[ "$owner" = 65532:65532 ] || fail "saved images are owned by $owner, not 65532:65532"
pass "images saved under /data/images ($(find "$volume/images" -type f | wc -l) files, owned by 65532)"

# ------------------------------------------------------------------ health check

podman healthcheck run "$name" >"$tmp/health.log" 2>&1 || {
    sed 's/^/    /' "$tmp/health.log"
    fail "podman healthcheck run: not healthy"
}
status=$(podman inspect --format '{{.State.Health.Status}}' "$name")
[ "$status" = healthy ] || fail "after podman healthcheck run the container's health is '$status'"
pass "podman healthcheck run: healthy (viewtron-bridge --health inside the image)"

# ------------------------------------------------------------------ memory under load

load_json=$(python3 "$here/load.py" "$bridge_port" "$fixture" "$pid" --connections 8 --seconds 3) || {
    echo "    $load_json"
    fail "8 keep-alive connections posting: not every post answered success on a kept-alive connection"
}
# The peak: the largest VmRSS sampled, or VmHWM when larger (the kernel
# updates it lazily, so it can lag behind VmRSS).
read -r load_posts load_max < <(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["posts"], max(r["rss_max_kib"], r["hwm_kib"]))' "$load_json")
pass "8 keep-alive connections: $load_posts posts in 3 s, all answered success"
healthz_200 || fail "/healthz not 200 after the load"

# ------------------------------------------------------------------ clean stop

if seen "^[01] $availability offline\$"; then
    fail "'offline' on $availability before the stop"
fi
stop_start=$SECONDS
podman stop -t 20 "$name" >"$tmp/stop.log" 2>&1 || {
    sed 's/^/    /' "$tmp/stop.log"
    fail "podman stop failed"
}
within 25 "the container exited" container_exited
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "after SIGTERM the bridge exited with status $code, not 0 (137: killed after the timeout)"
within 15 "'offline' on $availability after the stop" seen "^[01] $availability offline\$"
podman logs "$name" >"$tmp/container.log" 2>&1
grep -q 'signal 15: stopping' "$tmp/container.log" || fail "the bridge did not log the SIGTERM"
grep -q 'INFO ] stopped$' "$tmp/container.log" || fail "the bridge did not log its clean stop"
pass "podman stop: SIGTERM, exit 0 in $((SECONDS - stop_start))s, 'offline' on $availability"

# ------------------------------------------------------------------ the Home Assistant app

# The app (home-assistant/viewtron-bridge/): its image is the image above
# plus what an app needs (root, ENTRYPOINT viewtron-bridge --app), built
# here FROM the image just tested as a release builds it FROM the published
# one. The Supervisor cannot run here: what it does for the app is played
# by this script: /data/options.json written from config.yaml's options as
# it writes it, /share mapped, SUPERVISOR_TOKEN set, and its services API
# (GET /services/mqtt) answered by deploy/container/fake_supervisor.py.
echo
say "the Home Assistant app (home-assistant/viewtron-bridge/) on the image above"
app_start=$SECONDS
app_dir=$root/home-assistant/viewtron-bridge

# seen_in FILE PATTERN, count_in FILE PATTERN: lines matching (grep -E).
seen_in() { grep -a -q -E "$2" "$1"; }
count_in() { grep -a -c -E "$2" "$1" || true; }
healthz_on() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/healthz")" = 200 ]; }
running() { [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
exited() { [ "$(podman inspect --format '{{.State.Status}}' "$1" 2>/dev/null)" = exited ]; }
exit_code() { podman inspect --format '{{.State.ExitCode}}' "$1"; }
# other_port PORT...: a free port that is none of PORT...
other_port() {
    local p
    p=$(free_port)
    while [[ " $* " == *" $p "* ]]; do p=$(free_port); done
    echo "$p"
}

podman build --format docker --pull=never --build-arg "BASE=$image" -t "$app_image" \
    -f "$app_dir/Dockerfile" "$app_dir" >"$tmp/app-build.log" 2>&1 || {
    tail -n 20 "$tmp/app-build.log" | sed 's/^/    /'
    fail "podman build of the app image (home-assistant/viewtron-bridge/Dockerfile, BASE=$image) failed"
}
app_build_seconds=$((SECONDS - app_start))
app_bytes=$(podman image inspect --format '{{.Size}}' "$app_image")
app_user=$(podman image inspect --format '{{.Config.User}}' "$app_image")
[ "$app_user" = 0:0 ] || fail "the app image's user is '$app_user', not 0:0 (the Supervisor writes options.json for root)"
app_entrypoint=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$app_image")
[ "$app_entrypoint" = '["/usr/local/bin/viewtron-bridge","--app"]' ] ||
    fail "the app image's ENTRYPOINT is $app_entrypoint, not viewtron-bridge --app"
[ "$(podman image inspect --format '{{json .Config.Healthcheck}}' "$app_image")" = "$healthcheck" ] ||
    fail "the app image does not carry the container image's HEALTHCHECK"
[ "$(podman image inspect --format '{{index .Config.Labels "io.hass.type"}}' "$app_image")" = app ] ||
    fail "the app image has no io.hass.type=app label"
app_env=$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$app_image")
grep -qx 'BRIDGE_PORT=' <<<"$app_env" ||
    fail "the app image does not empty the container image's BRIDGE_PORT"
pass "app image built FROM $image in ${app_build_seconds}s ($app_bytes bytes): user 0:0, ENTRYPOINT viewtron-bridge --app, the HEALTHCHECK inherited"

# config.yaml's options, read with PyYAML when there is one (Debian's
# python3-yaml for the system python3), else app_options.py's tiny reader.
app_py=python3
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then
        app_py=/usr/bin/python3
    elif apt_install python3-yaml && /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then
        app_py=/usr/bin/python3
    fi
fi

# The broker the Supervisor names, which takes its login only: as the
# Mosquitto app, where every app gets the login the services API gives.
# Three logins: the Supervisor's (for the bridge), one typed into the
# vendor's options, and this script's subscriber's.
service_user=addons
service_password=service-pw-$$-$RANDOM
typed_user=viewtron
typed_password=typed-in-pw-$$-$RANDOM
supervisor_token=app-token-$$-$RANDOM$RANDOM
app_broker_port=$(other_port "$broker_port" "$bridge_port")
mosquitto_passwd -c -b "$tmp/mosquitto.passwd" "$service_user" "$service_password" >/dev/null
mosquitto_passwd -b "$tmp/mosquitto.passwd" "$typed_user" "$typed_password" >/dev/null
mosquitto_passwd -b "$tmp/mosquitto.passwd" tester tester-pw >/dev/null
# `user root`: started as root, mosquitto would become the user mosquitto,
# who cannot read the password file in this script's private folder (as a
# user other than root it stays that user and ignores the line).
cat >"$tmp/mosquitto-app.conf" <<EOF
user root
listener $app_broker_port 127.0.0.1
allow_anonymous false
password_file $tmp/mosquitto.passwd
persistence false
log_dest stderr
log_type all
EOF
"$mosquitto_bin" -c "$tmp/mosquitto-app.conf" 2>"$tmp/mosquitto-app.log" &
app_broker_pid=$!
within 15 "the app's mosquitto accepting on 127.0.0.1:$app_broker_port" port_open "$app_broker_port"
kill -0 "$app_broker_pid" 2>/dev/null || fail "the app's mosquitto exited: $(tail -n 3 "$tmp/mosquitto-app.log")"
if mosquitto_pub -h 127.0.0.1 -p "$app_broker_port" -i "container-test-anon-$$" -t test -m x >/dev/null 2>&1; then
    fail "the app's broker took a client without a login"
fi
app_sub=$tmp/app-sub.log
mosquitto_sub -h 127.0.0.1 -p "$app_broker_port" -u tester -P tester-pw -i "container-app-test-$$" -q 1 \
    -t 'viewtron/#' -t 'homeassistant/#' \
    -T 'viewtron/+/overview_image' -T 'viewtron/+/target_image' \
    -F '%r %t %p' >"$app_sub" 2>"$tmp/app-sub.err" &
app_sub_pid=$!
within 15 "mosquitto_sub subscribed to the app's broker" \
    grep -q "container-app-test-$$ 1 homeassistant/#" "$tmp/mosquitto-app.log"

# The Supervisor's services API.
python3 "$here/fake_supervisor.py" "$supervisor_token" 127.0.0.1 "$app_broker_port" \
    "$service_user" "$service_password" "$tmp/supervisor.port" "$tmp/supervisor.log" 2>"$tmp/supervisor.err" &
supervisor_pid=$!
within 10 "the fake Supervisor listening" test -s "$tmp/supervisor.port"
supervisor_port=$(cat "$tmp/supervisor.port")
supervisor_url=http://127.0.0.1:$supervisor_port
touch "$tmp/supervisor.log"
asked() { count_in "$tmp/supervisor.log" '^GET /services/mqtt token=yes 200$'; }
say "app broker (login only) on 127.0.0.1:$app_broker_port, fake Supervisor on $supervisor_url"

# options.json as the Supervisor writes it from config.yaml's defaults, with
# the bridge on a free port and the broker left to the Supervisor.
app_port=$(other_port "$broker_port" "$bridge_port" "$app_broker_port" "$supervisor_port")
keys=$("$app_py" "$here/app_options.py" "$app_dir/config.yaml" "$tmp/options.json" \
    "bridge_port=$app_port" 'mqtt_broker="auto"') || fail "app_options.py could not write options.json"
say "options.json: $keys; bridge_port $app_port, mqtt_broker auto"
chmod 0644 "$tmp/options.json"
mkdir -p "$tmp/share"

# run_app NAME OPTIONS [podman run arguments...]: the app image as the
# Supervisor runs it (host_network, options.json, /share, the token), the
# Supervisor's API at $supervisor_url.
run_app() {
    local c=$1 options=$2
    shift 2
    podman run -d --name "$c" "${runtime_args[@]}" "${limits[@]}" \
        --network host --health-interval disable \
        -v "$options:/data/options.json:ro" -v "$tmp/share:/share:rw" \
        -e "SUPERVISOR_TOKEN=$supervisor_token" -e "VIEWTRON_SUPERVISOR_URL=$supervisor_url" \
        "$@" "$app_image" >"$tmp/run-$c.log" 2>&1 || {
        sed 's/^/    /' "$tmp/run-$c.log"
        fail "podman run of the app image ($c) failed"
    }
}
# wait_up NAME PORT: running, then /healthz 200 on PORT.
wait_up() {
    local deadline=$((SECONDS + 15))
    until running "$1"; do
        exited "$1" && fail "$1 exited at start (status $(exit_code "$1")): $(podman logs --tail 3 "$1" 2>&1)"
        [ "$SECONDS" -lt "$deadline" ] || fail "$1 running: not within 15s"
        sleep 0.05
    done
    within 20 "$1: GET /healthz answering 200 on 127.0.0.1:$2 (serving, connected)" healthz_on "$2"
}
# stop_clean NAME AVAILABILITY_TOPIC: podman stop, exit 0, `offline` on the topic.
stop_clean() {
    local before t0=$SECONDS
    before=$(count_in "$app_sub" "^[01] $2 offline\$")
    podman stop -t 20 "$1" >"$tmp/stop-$1.log" 2>&1 || {
        sed 's/^/    /' "$tmp/stop-$1.log"
        fail "podman stop $1 failed"
    }
    within 25 "$1 exited" exited "$1"
    [ "$(exit_code "$1")" = 0 ] || fail "after SIGTERM $1 exited with status $(exit_code "$1"), not 0"
    offline_more() { [ "$(count_in "$app_sub" "^[01] $2 offline\$")" -gt "$before" ]; }
    within 15 "'offline' on $2 after stopping $1" offline_more "$1" "$2"
    stop_seconds=$((SECONDS - t0))
}

# ---- the app as installed: the broker from the Supervisor

# The vendor's Docker variables, pointing elsewhere (the first, anonymous
# broker and the first bridge's port): in the app they are ignored.
run_app "$app_name" "$tmp/options.json" \
    -e "BRIDGE_PORT=$bridge_port" -e MQTT_BROKER=127.0.0.1 -e "MQTT_PORT=$broker_port"
wait_up "$app_name" "$app_port"
pass "app: /healthz 200 on 127.0.0.1:$app_port (bridge_port from options.json; BRIDGE_PORT and MQTT_* given to the container ignored)"

[ "$(asked)" -ge 1 ] || fail "the fake Supervisor was not asked GET /services/mqtt with the app's token: $(cat "$tmp/supervisor.log")"
if seen_in "$tmp/supervisor.log" 'token=(no|wrong)'; then
    fail "the fake Supervisor was asked without the app's token: $(cat "$tmp/supervisor.log")"
fi
within 10 "the bridge logged in to the app's broker as '$service_user'" \
    seen_in "$tmp/mosquitto-app.log" "New client connected from .* u'$service_user'\\)"
app_client=$(grep -a -m 1 -E "New client connected from .* u'$service_user'\\)" "$tmp/mosquitto-app.log" | sed -E 's/.* as ([^ ]+) .*/\1/')
within 15 "'online' on the app's availability topic" seen_in "$app_sub" "$availability_re online\$"
app_availability=$(grep -a -m 1 -E "$availability_re online\$" "$app_sub" | cut -d' ' -f2)
pass "app: asked the fake Supervisor ($(asked)x GET /services/mqtt, with the token), logged in as '$service_user' ($app_client), online on $app_availability"

answer=$(curl -sS -m 10 -H 'Content-Type: application/xml' --data-binary "@$fixture" "http://127.0.0.1:$app_port/") ||
    fail "app: posting $(basename "$fixture") failed"
case "$answer" in *"<status>success</status>"*) ;; *) fail "app: the camera's answer is not success: $answer" ;; esac
within 15 "app: the plate sensor's discovery config" seen_in "$app_sub" "^[01] homeassistant/sensor/$camera/plate/config \\{"
within 15 "app: the LPR state message with plate '$plate'" seen_in "$app_sub" "^[01] viewtron/$camera/lpr \\{.*\"$plate\""
app_configs=$(count_in "$app_sub" "^[01] homeassistant/[a-z_]+/$camera/[a-z_]+/config ")
pass "app: camera post answered success; $app_configs discovery configs and the state message (plate $plate) on the Supervisor's broker"

asked_before=$(asked)
podman healthcheck run "$app_name" >"$tmp/app-health.log" 2>&1 || {
    sed 's/^/    /' "$tmp/app-health.log"
    fail "app: podman healthcheck run: not healthy"
}
status=$(podman inspect --format '{{.State.Health.Status}}' "$app_name")
[ "$status" = healthy ] || fail "app: after podman healthcheck run the health is '$status'"
[ "$(asked)" = "$asked_before" ] || fail "app: viewtron-bridge --health asked the Supervisor"
pass "app: podman healthcheck run: healthy (--health read bridge_port from options.json, did not ask the Supervisor)"

stop_clean "$app_name" "$app_availability"
pass "app: podman stop: SIGTERM, exit 0 in ${stop_seconds}s, 'offline' on $app_availability"

# ---- the vendor's app's options, as a user who swaps apps has them

vendor_port=$(other_port "$broker_port" "$bridge_port" "$app_broker_port" "$supervisor_port" "$app_port")
keys=$("$app_py" "$here/app_options.py" "$app_dir/config.yaml" "$tmp/options-vendor.json" \
    --only bridge_port,mqtt_broker,mqtt_port,mqtt_username,mqtt_password,save_images \
    "bridge_port=$vendor_port" 'mqtt_broker="127.0.0.1"' "mqtt_port=$app_broker_port" \
    "mqtt_username=\"$typed_user\"" "mqtt_password=\"$typed_password\"" save_images=true) ||
    fail "app_options.py could not write the vendor's options"
chmod 0644 "$tmp/options-vendor.json"
say "the vendor's option set: $keys; broker 127.0.0.1:$app_broker_port, login '$typed_user' typed in, save_images true"
asked_before=$(asked)
online_before=$(count_in "$app_sub" "$availability_re online\$")
states_before=$(count_in "$app_sub" "^[01] viewtron/$camera/lpr \\{.*\"$plate\"")
run_app "$app_name-vendor" "$tmp/options-vendor.json"
wait_up "$app_name-vendor" "$vendor_port"
within 10 "the vendor's options: logged in as '$typed_user'" \
    seen_in "$tmp/mosquitto-app.log" "New client connected from .* u'$typed_user'\\)"
online_more() { [ "$(count_in "$app_sub" "$availability_re online\$")" -gt "$online_before" ]; }
within 15 "the vendor's options: 'online' again" online_more
vendor_availability=$(grep -a -E "$availability_re online\$" "$app_sub" | sed -n "$((online_before + 1))p" | cut -d' ' -f2)
[ "$(asked)" = "$asked_before" ] || fail "the vendor's options (broker and login given): the Supervisor was asked"
answer=$(curl -sS -m 10 -H 'Content-Type: application/xml' --data-binary "@$fixture" "http://127.0.0.1:$vendor_port/") ||
    fail "the vendor's options: posting $(basename "$fixture") failed"
case "$answer" in *"<status>success</status>"*) ;; *) fail "the vendor's options: the camera's answer is not success: $answer" ;; esac
states_more() { [ "$(count_in "$app_sub" "^[01] viewtron/$camera/lpr \\{.*\"$plate\"")" -gt "$states_before" ]; }
within 15 "the vendor's options: the LPR state message" states_more
share_saved() { [ -n "$(find "$tmp/share/viewtron/images" -type f -name '*.jpg' 2>/dev/null | head -n 1)" ]; }
within 15 "the vendor's options: images saved under /share/viewtron/images" share_saved
pass "app, the vendor's 6 options: /healthz 200 on $vendor_port, logged in as '$typed_user' (Supervisor not asked), state message, images in /share/viewtron/images ($(find "$tmp/share/viewtron/images" -type f | wc -l) files)"
stop_clean "$app_name-vendor" "$vendor_availability"
pass "app, the vendor's options: podman stop: exit 0 in ${stop_seconds}s, 'offline' on $vendor_availability"

# ---- wrong options: a clear refusal, not a bridge on half a configuration

# bad_options NAME KEY=JSON WHAT: the container exits non-zero at once, its
# log one line: a configuration error in /data/options.json that names WHAT.
bad_options() {
    local c=$1 choice=$2 what=$3 lines line code
    "$app_py" "$here/app_options.py" "$app_dir/config.yaml" "$tmp/options-$c.json" \
        "bridge_port=$app_port" "$choice" >/dev/null || fail "app_options.py could not write $choice"
    chmod 0644 "$tmp/options-$c.json"
    run_app "$c" "$tmp/options-$c.json"
    within 15 "$c (options with $choice) exiting" exited "$c"
    code=$(exit_code "$c")
    [ "$code" != 0 ] || fail "with $choice in options.json the app exited 0"
    podman logs "$c" >"$tmp/logs-$c.log" 2>&1
    lines=$(grep -c . "$tmp/logs-$c.log" || true)
    line=$(grep -m 1 . "$tmp/logs-$c.log" || true)
    [ "$lines" = 1 ] || {
        sed 's/^/    /' "$tmp/logs-$c.log"
        fail "with $choice in options.json the app logged $lines lines, not one"
    }
    [[ $line == *"configuration error"*"/data/options.json"*"$what"* ]] ||
        fail "with $choice in options.json the app's one line is not a configuration error in /data/options.json naming $what: $line"
    pass "app refuses $choice: exit $code, one log line: $line"
}
# A wrong type: serde's message names the value and its place in the file
# (line and column), not the option.
bad_options "$app_name-bad-port" 'bridge_port="x"' '"x"'
# An option the app does not know (a newer app's options on an older image).
bad_options "$app_name-bad-key" 'mqtt_keepalive=60' mqtt_keepalive
app_seconds=$((SECONDS - app_start))

# ------------------------------------------------------------------ figures

echo
say "figures (this machine: $(uname -m), $(nproc) cores)"
say "  image size:                      $image_bytes bytes ($(mib $((image_bytes / 1024))))"
say "  VmRSS idle (connected, no posts): $idle_kib KiB ($(mib "$idle_kib"))"
say "  VmRSS, 8 keep-alive connections:  $load_max KiB at most ($(mib "$load_max"))"
say "  posts in 3 s over 8 connections:  $load_posts"
say "  app image size:                  $app_bytes bytes ($(mib $((app_bytes / 1024)))), built in ${app_build_seconds}s"
say "  the app's checks:                ${app_seconds}s"
say "all checks passed in $((SECONDS - run_start))s"

#!/usr/bin/env bash
# Bridge benchmark: licence-plate posts with images into viewtron-bridge and,
# side by side, the vendor's Python bridge; MQTT messages out, counted by a
# subscriber on a private mosquitto. On loopback. See bench/README.md.
#
#   bash bench/bridge.sh [--vendor PATH]
#
# --vendor PATH  the vendor's bridge (a checkout of
#                mikehaldas/viewtron-home-assistant or its viewtron_bridge.py;
#                not part of this repository), run unchanged in a venv made by
#                bridge/compat/vendor-venv.sh; without it, only our rows.
#                Also read from VENDOR_BRIDGE.
#
# Environment (defaults in brackets):
#   DURATION     seconds of load per measurement [5]
#   ROUNDS       rounds per case, the bridges taking turns; medians [3]
#   CONNECTIONS  camera connections to try, space-separated [1 8]
#   BRIDGES      which to run, from: ours vendor [ours, and vendor with --vendor]
#
# Both bridges get the same config.yaml: MQTT on, save_images off (the Docker
# image's default; disk speed is not what is measured), no webhooks. Per
# measurement: a fresh mosquitto, a subscriber on viewtron/+/lpr (the state
# topic, one message per event; the two image messages per event go through
# the broker but not to the subscriber), the bridge, then examples/simulate/
# posting for DURATION seconds; then up to 60 s for the bridge to deliver what
# it accepted.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

vendor=${VENDOR_BRIDGE:-}
while [ $# -gt 0 ]; do
    case $1 in
        --vendor) vendor=${2:?--vendor needs a path}; shift 2 ;;
        --vendor=*) vendor=${1#--vendor=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bridge.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-1 8}
if ! [[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $DURATION =~ ^0+([.]0+)?$ ]]; then
    echo "bridge.sh: DURATION must be a positive number of seconds, not '$DURATION'" >&2
    exit 2
fi
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bridge.sh: ROUNDS must be a whole number >= 1" >&2; exit 2; }
for c in $CONNECTIONS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || { echo "bridge.sh: CONNECTIONS must be whole numbers >= 1" >&2; exit 2; }
done

cd "$(dirname "$0")/.."
root=$PWD
say() { echo "bench: $*" >&2; }
export PATH=$PATH:/usr/sbin
for tool in mosquitto mosquitto_sub mosquitto_pub; do
    command -v "$tool" >/dev/null || { say "$tool is missing (apt-get install mosquitto mosquitto-clients)"; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-bridge-bench.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ build
say "building viewtron-bridge and examples/simulate/ (release)"
cargo build --release --quiet -p viewtron-bridge --bin viewtron-bridge
cargo build --release --quiet -p viewtron --example simulate
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
ours_bin=$target_dir/release/viewtron-bridge
simulate=$target_dir/release/examples/simulate
python3 bench/bridge_post.py "$tmp/lpr.xml" | sed 's/^/bench: post /' >&2

read -r -a bridges <<<"${BRIDGES:-ours${vendor:+ vendor}}"
for name in "${bridges[@]}"; do
    [[ $name == ours || $name == vendor ]] || { say "BRIDGES may only name ours and vendor, not '$name'"; exit 2; }
done
if [[ " ${bridges[*]} " == *" vendor "* ]]; then
    [ -n "$vendor" ] || { say "the vendor's rows need --vendor PATH"; exit 2; }
    script=$vendor
    [ -d "$vendor" ] && script=$(find "$vendor" -name viewtron_bridge.py -not -path '*/venv/*' | head -n 1)
    [ -f "$script" ] || { say "no viewtron_bridge.py in $vendor"; exit 2; }
    venv=$(bash bridge/compat/vendor-venv.sh)
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails after SECONDS.
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@" 2>/dev/null; do
        ((SECONDS < end)) || return 1
        sleep 0.05
    done
}
port_open() { python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1"; }
count_events() { grep -vc ' viewtron/probe/lpr$' "$1" || true; }

# measure BRIDGE CONNECTIONS ROUND: one measurement; appends a line to results.tsv.
measure() {
    local name=$1 c=$2 round=$3 dir=$tmp/$1-$2-$3
    mkdir -p "$dir"
    local mqtt_port bridge_port
    mqtt_port=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n' \
        "$mqtt_port" >"$dir/mosquitto.conf"
    mosquitto -c "$dir/mosquitto.conf" 2>"$dir/mosquitto.log" &
    local broker=$!
    pids+=("$broker")
    wait_until 10 port_open "$mqtt_port" || { say "mosquitto did not start"; exit 1; }
    mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -i bench-sub -t 'viewtron/+/lpr' -F '%U %t' >"$dir/sub.out" &
    local sub=$!
    pids+=("$sub")
    probe() {
        mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -i bench-probe -t viewtron/probe/lpr -n
        grep -q ' viewtron/probe/lpr$' "$dir/sub.out"
    }
    wait_until 10 probe || { say "the subscriber did not start"; exit 1; }

    bridge_port=$(free_port)
    cat >"$dir/config.yaml" <<EOF
bridge_port: $bridge_port
save_images: false
mqtt:
  enabled: true
  broker: 127.0.0.1
  port: $mqtt_port
EOF
    local bridge
    if [ "$name" = ours ]; then
        printf 'server:\n  bind: 127.0.0.1\n' >>"$dir/config.yaml"
        env -u BRIDGE_PORT -u MQTT_BROKER -u MQTT_PORT -u SAVE_IMAGES \
            "$ours_bin" --config "$dir/config.yaml" >"$dir/bridge.log" 2>&1 &
        bridge=$!
    else
        cp "$script" "$dir/viewtron_bridge.py"
        PYTHONUNBUFFERED=1 "$venv/bin/python" bridge/compat/run_vendor.py "$dir/viewtron_bridge.py" \
            >"$dir/bridge.log" 2>&1 &
        bridge=$!
    fi
    pids+=("$bridge")
    bridge_connected() {
        grep 'New client connected' "$dir/mosquitto.log" | grep -vq ' as bench-'
    }
    if ! wait_until 20 port_open "$bridge_port" || ! wait_until 20 bridge_connected; then
        say "$name did not start; its output:"
        sed 's/^/bench:   /' "$dir/bridge.log" >&2
        exit 1
    fi
    # The vendor's bridge drops events until paho reports the connection.
    [ "$name" = ours ] || wait_until 10 grep -q 'MQTT connected' "$dir/bridge.log" || true

    local start
    start=$(date +%s.%N)
    "$simulate" --quiet --json -c "$c" -d "$DURATION" "http://127.0.0.1:$bridge_port/" "$tmp/lpr.xml" \
        >"$dir/sim.json" 2>"$dir/sim.err" || true
    local ok
    ok=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("ok", 0))' "$dir/sim.json" 2>/dev/null || echo 0)
    # Drain: until every accepted post is out, or nothing new for 3 s, or 60 s.
    local end=$((SECONDS + 60)) last=-1 still=0 got
    while ((SECONDS < end)); do
        got=$(count_events "$dir/sub.out")
        ((got >= ok)) && break
        if ((got == last)); then
            still=$((still + 1))
            ((still >= 60)) && break
        else
            still=0
            last=$got
        fi
        sleep 0.05
    done
    local rss dropped=
    rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$bridge/status" 2>/dev/null || echo "")
    if [ "$name" = ours ]; then
        # What it says it dropped (queue full), from its /metrics.
        dropped=$(python3 -c '
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
print(sum(int(float(l.split()[-1])) for l in text.splitlines()
          if l.startswith("viewtron_bridge_mqtt_dropped_total")))' "$bridge_port" 2>/dev/null || echo "?")
    fi
    kill "$bridge" "$sub" "$broker" 2>/dev/null || true
    wait "$bridge" "$sub" "$broker" 2>/dev/null || true
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$round" "$start" "$(tail -n 1 "$dir/sim.json")" \
        "${rss:-}" "$dir/sub.out" "$dropped" >>"$tmp/results.tsv"
    say "$name c=$c round $round: answered $ok, delivered $(count_events "$dir/sub.out"), peak RSS ${rss:-?} kB${dropped:+, dropped (its count) $dropped}"
}

: >"$tmp/results.tsv"
for c in $CONNECTIONS; do
    for round in $(seq 1 "$ROUNDS"); do
        for name in "${bridges[@]}"; do
            measure "$name" "$c" "$round"
        done
    done
done

# ------------------------------------------------------------------ report
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo
python3 - "$tmp/results.tsv" "nproc=$(nproc), $(uname -r), commit $commit" "$DURATION" <<'PY'
import json
import statistics
import sys

path, machine, duration = sys.argv[1], sys.argv[2], sys.argv[3]
groups = {}
for line in open(path):
    name, conns, rnd, start, sim, rss, sub, dropped = line.rstrip("\n").split("\t")
    try:
        sim = json.loads(sim)
    except ValueError:
        sim = {}
    stamps = [float(l.split()[0]) for l in open(sub) if not l.rstrip().endswith(" viewtron/probe/lpr")]
    delivered = len(stamps)
    # Events per second from the first post to the last MQTT message out.
    span = (max(stamps) - float(start)) if stamps else None
    groups.setdefault((name, int(conns)), []).append({
        "answered": sim.get("ok", 0),
        "errors": sim.get("errors", 0),
        "answered_s": sim["ok"] / sim["elapsed_s"] if sim.get("elapsed_s") else None,
        "events_s": delivered / span if span else None,
        "delivered": delivered,
        "p50": sim.get("p50_ms"),
        "p99": sim.get("p99_ms"),
        "max": sim.get("max_ms"),
        "rss": int(rss) / 1024 if rss else None,
        "dropped": dropped,
    })


def med(runs, key, fmt):
    values = [r[key] for r in runs if r[key] is not None]
    return format(statistics.median(values), fmt) if values else "-"


head = ["bridge", "connections", "events/s (MQTT out)", "posts/s answered", "p50 ms", "p99 ms",
        "max ms", "peak RSS MB", "delivered / answered"]
rows = []
for (name, conns), runs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0] != "ours")):
    label = "viewtron-bridge" if name == "ours" else "vendor (Python)"
    lost = " ".join(f"{r['delivered']}/{r['answered']}" + (f" ({r['errors']} errors)" if r["errors"] else "")
                    + (f" [{r['dropped']} dropped]" if r["dropped"] not in ("", "0") else "")
                    for r in runs)
    rows.append([label, str(conns), med(runs, "events_s", ",.1f"), med(runs, "answered_s", ",.1f"),
                 med(runs, "p50", ".2f"), med(runs, "p99", ".2f"), med(runs, "max", ".1f"),
                 med(runs, "rss", ".1f"), lost])
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
right = {1, 2, 3, 4, 5, 6, 7}
fmt = lambda cells: "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                      for i, (c, w) in enumerate(zip(cells, widths))) + " |"
print(fmt(head))
print("|" + "|".join("-" * (w + 1) + (":" if i in right else "-") for i, w in enumerate(widths)) + "|")
for r in rows:
    print(fmt(r))
print()
print(f"machine: {machine}; post: v1 VEHICE with a 200 KB + 8 KB base64 image (bench/bridge_post.py), "
      f"{duration} s of load per run, medians over the rounds")
print("events/s = state messages the subscriber received / seconds from the first post to the last "
      "message; p50/p99/max = the camera's wait for its answer (examples/simulate/); "
      "delivered / answered per round, [n dropped] = messages viewtron-bridge says it dropped "
      "with its queue full (viewtron_bridge_mqtt_dropped_total)")
PY

#!/usr/bin/env bash
# One-command benchmark: our server (bench/rigs/src/bin/sink.rs) against the ceiling
# of its stack (bench/rigs/src/bin/ceiling.rs: bare tiny_http, no parsing) and its
# floor (the ceiling plus roxmltree parsing the post as our parser hands it over,
# `ceiling --parse`), side by side in the same run, on loopback. See bench/README.md.
#
#   bash bench/run.sh [--python-sdk] [--bridge]
#
# Environment (defaults in brackets):
#   DURATION     seconds of load per measurement [5]; each server runs DURATION+2
#   ROUNDS       rounds per case [3]: the servers take turns, round after round,
#                and the table gives medians (this host's noise drifts in time,
#                so one long measurement per server is not a fair comparison)
#   CONNECTIONS  client connections to try, space-separated [1 64]
#   POSTS        posts to try, space-separated, from: traject image [traject image]
#   CLIENTS      load clients, from: simulate wrk [simulate wrk]; each measurement
#                follows a 1 s warm-up on the same server, so that the start-up
#                burst is measured apart (BURSTS)
#   BURSTS       burst sizes: new connections opened back to back, each posting
#                once at once (simulate --burst) [64 256 1000]; '' skips
#   CAMERAS      keep-alive connections of the cameras scenario, each posting the
#                traject post once a second [1000]; 0 skips
#   CAMERA_SECONDS  length of the cameras scenario [12]
#   FLOOR        1 measures the floor next to the ceiling and viewtron, 0 skips [1]
#
# --python-sdk adds the reference Python SDK (PyPI viewtron==1.4.1, installed in a
# throwaway venv) as a third server; when that install fails it says why and
# goes on without it.
#
# --bridge then runs bench/bridge.sh (viewtron-bridge, and the vendor's Python
# bridge when VENDOR_BRIDGE names its checkout; BRIDGE_CONNECTIONS [1 8]).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

python_sdk=false
bridge=false
for arg in "$@"; do
    case $arg in
        --python-sdk) python_sdk=true ;;
        --bridge) bridge=true ;;
        -h | --help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: ROUNDS must be a whole number >= 1, not '$ROUNDS'" >&2
    exit 2
fi
CONNECTIONS=${CONNECTIONS:-1 64}
FLOOR=${FLOOR:-1}
if ! [[ $FLOOR =~ ^[01]$ ]]; then
    echo "run.sh: FLOOR must be 0 or 1, not '$FLOOR'" >&2
    exit 2
fi
POSTS=${POSTS:-traject image}
if ! [[ $DURATION =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $DURATION =~ ^0+([.]0+)?$ ]]; then
    echo "run.sh: DURATION must be a positive number of seconds, not '$DURATION'" >&2
    exit 2
fi
for c in $CONNECTIONS; do
    if ! [[ $c =~ ^[1-9][0-9]*$ ]]; then
        echo "run.sh: CONNECTIONS must be whole numbers >= 1, not '$c'" >&2
        exit 2
    fi
done
for post in $POSTS; do
    if [[ $post != traject && $post != image ]]; then
        echo "run.sh: POSTS may only name traject and image, not '$post'" >&2
        exit 2
    fi
done
CLIENTS=${CLIENTS:-simulate wrk}
BURSTS=${BURSTS-64 256 1000}
CAMERAS=${CAMERAS:-1000}
CAMERA_SECONDS=${CAMERA_SECONDS:-12}
for client in $CLIENTS; do
    if [[ $client != simulate && $client != wrk ]]; then
        echo "run.sh: CLIENTS may only name simulate and wrk, not '$client'" >&2
        exit 2
    fi
done
for n in $BURSTS $CAMERAS $CAMERA_SECONDS; do
    if ! [[ $n =~ ^[0-9]+$ ]]; then
        echo "run.sh: BURSTS, CAMERAS and CAMERA_SECONDS take whole numbers, not '$n'" >&2
        exit 2
    fi
done
# A warm-up second before each measurement, and 2 s of margin.
run_for=$(python3 -c "import sys; print(float(sys.argv[1]) + 3)" "$DURATION")
# 1,000 connections cost the client one descriptor each and the server two.
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

command_line="DURATION=$DURATION ROUNDS=$ROUNDS CONNECTIONS='$CONNECTIONS' POSTS='$POSTS' CLIENTS='$CLIENTS' BURSTS='$BURSTS' CAMERAS=$CAMERAS CAMERA_SECONDS=$CAMERA_SECONDS bash bench/run.sh${*:+ $*}"
cd "$(dirname "$0")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-bench.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }

# ------------------------------------------------------------------ build
say "building the rigs and simulate (release)"
cargo build --release --quiet -p viewtron --example simulate
cargo build --release --quiet -p viewtron-bench-rigs --bin sink --bin ceiling
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target_dir/release/examples # simulate
rigs=$target_dir/release # sink, ceiling

# Our server's default worker count, max(2 x cores, 4); the ceiling gets as many.
cores=$(nproc)
workers=$((cores * 2 > 4 ? cores * 2 : 4))

python3 bench/make_posts.py "$tmp/posts" | sed 's/^/bench: post /' >&2

# ------------------------------------------------------------------ python sdk
servers=(ceiling viewtron)
((FLOOR == 0)) || servers=(ceiling floor viewtron)
if $python_sdk; then
    say "installing viewtron==1.4.1 (Python SDK) into a throwaway venv"
    if python3 -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1 &&
        "$tmp/venv/bin/pip" install --disable-pip-version-check -q viewtron==1.4.1 \
            >>"$tmp/venv.log" 2>&1; then
        servers+=(python-sdk)
    else
        say "the Python SDK could not be installed; going on without it:"
        tail -n 5 "$tmp/venv.log" | sed 's/^/bench:   /' >&2
    fi
fi

# ------------------------------------------------------------------ runs

# start_server NAME CMD...: starts CMD (a server that takes port 0 and names
# its address on stderr as `listening on 127.0.0.1:PORT`), sets server_pid and
# server_port. CMD runs under a subshell that waits for it and then writes,
# with `times`, the CPU time it used to $tmp/NAME.times; server_pid is that
# subshell's, whose exit status is CMD's.
start_server() {
    local name=$1
    shift
    (
        "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
        echo $! >"$tmp/$name.pid"
        status=0
        wait $! || status=$?
        times >"$tmp/$name.times"
        exit $status
    ) &
    server_pid=$!
    pids+=("$server_pid")
    local waited=0
    until server_port=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$tmp/$name.err" |
        grep -o '[0-9]*$'); do
        if ! kill -0 "$server_pid" 2>/dev/null || ((waited >= 300)); then
            say "$name did not start listening; its stderr:"
            sed 's/^/bench:   /' "$tmp/$name.err" >&2
            exit 1
        fi
        sleep 0.05
        waited=$((waited + 1))
    done
    pids+=("$(cat "$tmp/$name.pid")")
}

# cpu_seconds NAME: user + system CPU seconds of the server NAME (from the
# second line of `times`, like `0m1.234s 0m0.567s`), or nothing.
cpu_seconds() {
    tail -n 1 "$tmp/$1.times" 2>/dev/null |
        python3 -c 'import re, sys
t = re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())
print(sum(int(m) * 60 + float(s) for m, s in t) if len(t) == 2 else "")'
}

if [[ " $CLIENTS " == *" wrk "* ]] && ! command -v wrk >/dev/null; then
    say "wrk is missing: trying apt-get install wrk"
    { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; } \
        >"$tmp/apt.log" 2>&1 || true
    if ! command -v wrk >/dev/null; then
        say "wrk could not be installed; going on with simulate only"
        CLIENTS=${CLIENTS//wrk/}
    fi
fi
# wrk posts the file named by POST_FILE.
cat >"$tmp/post.lua" <<'LUA'
local f = assert(io.open(os.getenv("POST_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/xml"
LUA

# wrk_json: wrk's --latency report on stdin -> one JSON line like simulate's.
wrk_json() {
    python3 -c '
import json, re, sys
text = sys.stdin.read()
def ms(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[unit]
out = {}
m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
if m:
    secs = float(m.group(2)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(3)]
    out.update(posts=int(m.group(1)), elapsed_s=secs)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
if "posts" in out:
    out.update(ok=out["posts"] - (int(bad.group(1)) if bad else 0), errors=errors)
for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
    m = re.search(r"^\s+" + pct + r"%\s+(\S+)", text, re.M)
    if m:
        out[key] = ms(m.group(1))
m = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text)
if m:
    out["max_ms"] = ms(m.group(1))
print(json.dumps(out) if out else "")
'
}

# warm_up PORT C POST: one second of C connections, closed again, so that the
# measurement after it starts on a warm server (the start-up burst is
# measured apart, under BURSTS).
warm_up() {
    "$bin/simulate" --quiet -c "$2" -d 1 "http://127.0.0.1:$1/API" "$tmp/posts/$3.xml" \
        >/dev/null 2>&1 || true
}

: >"$tmp/results.tsv"
total=0
for _ in $CLIENTS; do for _ in $POSTS; do for _ in $CONNECTIONS; do
    total=$((total + ${#servers[@]} * ROUNDS))
done; done; done
estimate=$(python3 -c "import sys; print(round(float(sys.argv[1]) * int(sys.argv[2])))" "$run_for" "$total")
say "$total measurements of ${DURATION}s each (about ${estimate}s in all), then bursts and cameras"
done_runs=0
for client in $CLIENTS; do
  for post in $POSTS; do
    for c in $CONNECTIONS; do
      for round in $(seq 1 "$ROUNDS"); do
        for server in "${servers[@]}"; do
            tag=$client-$post-$c-$server-$round
            case $server in
                ceiling) start_server "$tag" "$rigs/ceiling" 0 "$run_for" --workers "$workers" ;;
                floor)
                    start_server "$tag" "$rigs/ceiling" 0 "$run_for" --workers "$workers" \
                        --parse "$tmp/posts/$post.skeleton.xml"
                    ;;
                viewtron) start_server "$tag" "$rigs/sink" 0 "$run_for" --rss ;;
                python-sdk)
                    start_server "$tag" "$tmp/venv/bin/python" bench/python_sdk_server.py 0 "$run_for"
                    ;;
            esac
            warm_up "$server_port" "$c" "$post"
            sim_status=0
            if [[ $client == wrk ]]; then
                threads=$((c < cores ? c : cores))
                POST_FILE=$tmp/posts/$post.xml wrk -t "$threads" -c "$c" -d "${DURATION}s" \
                    -s "$tmp/post.lua" --latency "http://127.0.0.1:$server_port/API" \
                    >"$tmp/$tag.wrk" 2>"$tmp/$tag.sim.err" || sim_status=2
                wrk_json <"$tmp/$tag.wrk" >"$tmp/$tag.sim"
            else
                "$bin/simulate" --quiet --json -c "$c" -d "$DURATION" \
                    "http://127.0.0.1:$server_port/API" "$tmp/posts/$post.xml" \
                    >"$tmp/$tag.sim" 2>"$tmp/$tag.sim.err" || sim_status=$?
            fi
            server_status=0
            wait "$server_pid" || server_status=$?
            sim_line=$(tail -n 1 "$tmp/$tag.sim")
            server_line=$(tail -n 1 "$tmp/$tag.out")
            if ((sim_status > 1)) || [[ -z $sim_line ]]; then
                say "$client failed on $tag (exit $sim_status): $(tail -n 3 "$tmp/$tag.sim.err")"
            fi
            if ((server_status != 0)); then
                say "$server exited with status $server_status on $tag: $(tail -n 3 "$tmp/$tag.err")"
            fi
            [[ -n $sim_line ]] || sim_line='{}'
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$post" "$c" "$server" "$sim_line" \
                "$server_line" "$(cpu_seconds "$tag")" "$round" "$client" >>"$tmp/results.tsv"
            done_runs=$((done_runs + 1))
            say "[$done_runs/$total] $client $post c=$c $server round $round: $server_line"
        done
      done
    done
  done
done

# peak_threads PID: samples the thread count of PID until it exits; prints the peak.
peak_threads() {
    local peak=0 n
    while n=$(awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [[ -n $n ]]; do
        ((n > peak)) && peak=$n
        sleep 0.2
    done
    echo "$peak"
}

# ------------------------------------------------------------------ bursts
# Each burst on a fresh server: N connections opened back to back, one post
# each, all kept open until every first answer is in.
: >"$tmp/bursts.tsv"
for n in $BURSTS; do
    for round in $(seq 1 "$ROUNDS"); do
        for server in ceiling viewtron; do
            tag=burst-$n-$server-$round
            case $server in
                ceiling) start_server "$tag" "$rigs/ceiling" 0 15 --workers "$workers" ;;
                viewtron) start_server "$tag" "$rigs/sink" 0 15 --rss ;;
            esac
            "$bin/simulate" --quiet --json --burst -c "$n" \
                "http://127.0.0.1:$server_port/API" "$tmp/posts/traject.xml" \
                >"$tmp/$tag.sim" 2>/dev/null || true
            kill -INT "$(cat "$tmp/$tag.pid")" 2>/dev/null || true
            wait "$server_pid" 2>/dev/null || true
            printf '%s\t%s\t%s\t%s\n' "$n" "$server" "$round" \
                "$(tail -n 1 "$tmp/$tag.sim" || echo '{}')" >>"$tmp/bursts.tsv"
            say "burst $n $server round $round: $(tail -n 1 "$tmp/$tag.sim" | cut -c1-160)"
        done
    done
done

# ------------------------------------------------------------------ cameras
# CAMERAS keep-alive connections, each posting the traject post once a
# second (staggered) for CAMERA_SECONDS, against each server in turn.
: >"$tmp/cameras.tsv"
if ((CAMERAS > 0)); then
    for server in ceiling viewtron; do
        tag=cameras-$server
        case $server in
            ceiling) start_server "$tag" "$rigs/ceiling" 0 $((CAMERA_SECONDS + 4)) --workers "$workers" ;;
            viewtron) start_server "$tag" "$rigs/sink" 0 $((CAMERA_SECONDS + 4)) --rss ;;
        esac
        peak_threads "$(cat "$tmp/$tag.pid")" >"$tmp/$tag.threads" &
        sampler=$!
        "$bin/simulate" --quiet --json -c "$CAMERAS" --rate "$CAMERAS" -d "$CAMERA_SECONDS" \
            "http://127.0.0.1:$server_port/API" "$tmp/posts/traject.xml" \
            >"$tmp/$tag.sim" 2>/dev/null || true
        wait "$server_pid" || true
        wait "$sampler" || true
        printf '%s\t%s\t%s\t%s\n' "$server" "$(tail -n 1 "$tmp/$tag.sim" || echo '{}')" \
            "$(tail -n 1 "$tmp/$tag.out")" "$(cat "$tmp/$tag.threads")" >>"$tmp/cameras.tsv"
        say "cameras $server: $(tail -n 1 "$tmp/$tag.out")"
    done
fi

# ------------------------------------------------------------------ report
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="machine: nproc=$cores, cpu=${cpu:-unknown}, kernel $(uname -r), $(rustc --version)"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# GIT_OPTIONAL_LOCKS=0: look without refreshing (writing) the index.
if [[ -n $(GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with uncommitted changes)"
fi

echo
python3 - "$tmp/results.tsv" "$machine" "commit: $commit" \
    "command: $command_line" "$workers" "$tmp/bursts.tsv" "$tmp/cameras.tsv" <<'PY'
import json
import sys

path, machine, commit, command, workers, bursts_path, cameras_path = sys.argv[1:8]
SIZES = {"traject": "traject (1.9 KB)", "image": "image (520 KB)"}


def fields(line):
    """`a=1 b=2` -> {"a": 1, "b": 2}"""
    out = {}
    for part in line.split():
        key, _, value = part.partition("=")
        if value.isdigit():
            out[key] = int(value)
    return out


rows, ceiling = [], {}
with open(path) as f:
    for line in f:
        post, conns, server, sim, server_line, cpu, rnd, client = line.rstrip("\n").split("\t")
        try:
            sim = json.loads(sim)
        except ValueError:
            sim = {}
        srv = fields(server_line)
        ok = sim.get("ok")
        rate = ok / sim["elapsed_s"] if ok is not None and sim.get("elapsed_s") else None
        if server == "ceiling":
            ceiling[(client, post, conns, rnd)] = rate
        # What the server counted must match what the client saw answered.
        counted_key = "requests" if server in ("ceiling", "floor") else "events"
        counted = srv.get(counted_key)
        problems = []
        if not sim:
            problems.append("no client report")
        elif sim.get("errors"):
            problems.append(f"errors={sim['errors']}")
        if counted is None:
            problems.append("no server report")
        elif ok is not None and counted < ok:
            # The server also counts the warm-up's posts, never fewer.
            problems.append(f"WARN {counted_key}={counted} ok={ok}")
        # The ceiling must have served every connection it was given (the
        # warm-up's and the measurement's): otherwise it is no ceiling.
        served = srv.get("connections")
        if server in ("ceiling", "floor") and served is not None and served < 2 * int(conns):
            problems.append(f"WARN served {served} of {2 * int(conns)} connections")
        # Per post the server handled, the warm-up's included.
        cpu_us = 1e6 * float(cpu) / counted if cpu and counted else None
        rows.append((client, post, conns, server, rate, sim, srv, cpu_us, problems, rnd))


def num(value, fmt):
    return "-" if value is None else format(value, fmt)


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# One line per (post, connections, server): medians over the rounds; the
# ratio is the median of the per-round ratios (each against the ceiling run
# right before it), and the per-round ratios are listed too.
groups = {}
cpu_base = {}
for client, post, conns, server, rate, sim, srv, cpu_us, problems, rnd in rows:
    if server == "ceiling":
        cpu_base[(client, post, conns, rnd)] = cpu_us
for client, post, conns, server, rate, sim, srv, cpu_us, problems, rnd in rows:
    base = ceiling.get((client, post, conns, rnd))
    ratio = rate / base if rate is not None and base else None
    base_cpu = cpu_base.get((client, post, conns, rnd))
    cpu_ratio = cpu_us / base_cpu if cpu_us and base_cpu else None
    groups.setdefault((client, post, conns, server), []).append(
        (rate, sim, srv, cpu_us, problems, ratio, cpu_ratio))

table = []
for (client, post, conns, server), runs in groups.items():
    ratios = [r[5] for r in runs]
    rss = max((r[2].get("peak_rss_kb") or 0) for r in runs) or None
    problems = sorted({p for r in runs for p in r[4]})
    table.append([
        client,
        SIZES.get(post, post),
        conns,
        server,
        num(median(r[0] for r in runs), ",.0f"),
        num(median(r[1].get("p50_ms") for r in runs), ".3f"),
        num(median(r[1].get("p99_ms") for r in runs), ".3f"),
        num(max((r[1].get("max_ms") or 0) for r in runs) or None, ".1f"),
        num(rss / 1024 if rss else None, ".1f"),
        num(median(ratios), ".2f"),
        " ".join(num(x, ".2f") for x in ratios),
        num(median(r[3] for r in runs), ",.1f"),
        num(median(r[6] for r in runs), ".2f"),
        "; ".join(problems) or "ok",
    ])
head = ["client", "post", "conns", "server", "posts/s", "p50 ms", "p99 ms", "max ms",
        "peak RSS MB", "vs ceiling", "per round", "CPU us/post", "CPU vs ceiling", "check"]
right = {2, 4, 5, 6, 7, 8, 9, 11, 12}
def show_table(head, table, right):
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]

    def show(cells):
        padded = [str(c).rjust(w) if i in right else str(c).ljust(w)
                  for i, (c, w) in enumerate(zip(cells, widths))]
        print("| " + " | ".join(padded) + " |")

    show(head)
    print("|" + "|".join(("-" * (w + 1)) + (":" if i in right else "-")
                         for i, w in enumerate(widths)) + "|")
    for row in table:
        show(row)
    print()


if table:
    show_table(head, table, right)

# Bursts: medians over the rounds; the worst round is listed too.
bursts = {}
with open(bursts_path) as f:
    for line in f:
        n, server, rnd, sim = line.rstrip("\n").split("\t", 3)
        try:
            sim = json.loads(sim)
        except ValueError:
            sim = {}
        bursts.setdefault((int(n), server), []).append(sim)
if bursts:
    rows_b = []
    for (n, server), runs in sorted(bursts.items()):
        answered = [r.get("answered_connections") for r in runs]
        # A round that left a connection unanswered has no slowest answer.
        slowest = [r.get("first_max_ms") if r.get("answered_connections") == n
                   else float("inf") for r in runs]
        p99 = [r.get("first_p99_ms") if r.get("answered_connections") == n
               else float("inf") for r in runs]
        never = lambda v, fmt: "never" if v == float("inf") else num(v, fmt)
        rows_b.append([
            n, server,
            " ".join(f"{a}/{n}" if a is not None else "-" for a in answered),
            never(median(slowest), ",.1f"),
            never(max(slowest, default=None), ",.1f"),
            never(median(p99), ",.1f"),
        ])
    print("Bursts (simulate --burst: N new connections opened back to back, one post each,"
          " kept open until every first answer is in):")
    print()
    show_table(["burst", "server", "answered per round", "slowest first answer ms (median)",
                "worst round ms", "first-answer p99 ms (median)"], rows_b, {0, 3, 4, 5})

cams = []
with open(cameras_path) as f:
    for line in f:
        server, sim, server_line, threads = line.rstrip("\n").split("\t")
        try:
            sim = json.loads(sim)
        except ValueError:
            sim = {}
        srv = fields(server_line)
        delivered = srv.get("events" if server == "viewtron" else "requests")
        rss = srv.get("peak_rss_kb")
        cams.append([
            server,
            f"{sim.get('ok', '-')}/{sim.get('posts', '-')}",
            "-" if delivered is None else delivered,
            num(sim.get("p50_ms"), ".3f"),
            num(sim.get("p99_ms"), ".3f"),
            num(sim.get("max_ms"), ".1f"),
            num(rss / 1024 if rss else None, ".1f"),
            threads or "-",
        ])
if cams:
    print("Cameras (keep-alive connections each posting the traject post once a second):")
    print()
    show_table(["server", "answered/sent", "delivered", "p50 ms", "p99 ms", "max ms",
                "peak RSS MB", "peak threads"], cams, {2, 3, 4, 5, 6, 7})
print(machine)
print(commit)
print(command)
print(f"servers: ceiling = bare tiny_http 0.12, {workers} workers, no parsing "
      "(bench/rigs ceiling); floor = the ceiling plus roxmltree parsing, per post, the post "
      "as viewtron's parser hands it over (ceiling --parse POST.skeleton.xml); "
      "viewtron = bench/rigs sink, default settings"
      + ("; python-sdk = viewtron 1.4.1 from PyPI" if any(r[2] == "python-sdk" for r in rows) else ""))
print("clients: simulate (examples/simulate/, a thread per connection) and wrk "
      "(epoll, --latency; its p99 includes its coordinated-omission correction); "
      "each measurement follows a 1 s warm-up on the same server")
print("posts/s = posts answered 200 per second of client time; p50/p99/max = client latency; "
      "figures are medians over the rounds; vs ceiling = median of the per-round "
      "posts/s / ceiling posts/s (same post and connections, measured just before); "
      "CPU us/post = server user+system CPU time / posts the server counted (warm-up "
      "included); CPU vs ceiling = median of per-round ratios; "
      "check = server count (events, or requests for the ceiling and floor) is at least the "
      "posts answered 200, the client saw no error, and the ceiling and floor served every "
      "connection")
PY

if $bridge; then
    echo
    DURATION=$DURATION ROUNDS=$ROUNDS CONNECTIONS=${BRIDGE_CONNECTIONS:-1 8} bash bench/bridge.sh
fi

#!/usr/bin/env bash
# One-command benchmark: our server (examples/sink.rs) against the ceiling of
# its stack (examples/ceiling.rs: bare tiny_http, no parsing), side by side in
# the same run, on loopback. See bench/README.md.
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
run_for=$(python3 -c "import sys; print(float(sys.argv[1]) + 2)" "$DURATION")

command_line="DURATION=$DURATION ROUNDS=$ROUNDS CONNECTIONS='$CONNECTIONS' POSTS='$POSTS' bash bench/run.sh${*:+ $*}"
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
say "building the examples (release)"
cargo build --release --quiet --example sink --example ceiling --example simulate
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target_dir/release/examples

# Our server's default worker count, max(2 x cores, 4); the ceiling gets as many.
cores=$(nproc)
workers=$((cores * 2 > 4 ? cores * 2 : 4))

python3 bench/make_posts.py "$tmp/posts" | sed 's/^/bench: post /' >&2

# ------------------------------------------------------------------ python sdk
servers=(ceiling viewtron)
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

: >"$tmp/results.tsv"
total=0
for _ in $POSTS; do for _ in $CONNECTIONS; do total=$((total + ${#servers[@]} * ROUNDS)); done; done
estimate=$(python3 -c "import sys; print(round(float(sys.argv[1]) * int(sys.argv[2])))" "$run_for" "$total")
say "$total measurements of ${DURATION}s each (about ${estimate}s in all)"
done_runs=0
for post in $POSTS; do
    for c in $CONNECTIONS; do
      for round in $(seq 1 "$ROUNDS"); do
        for server in "${servers[@]}"; do
            tag=$post-$c-$server-$round
            case $server in
                ceiling) start_server "$tag" "$bin/ceiling" 0 "$run_for" --workers "$workers" ;;
                viewtron) start_server "$tag" "$bin/sink" 0 "$run_for" --rss ;;
                python-sdk)
                    start_server "$tag" "$tmp/venv/bin/python" bench/python_sdk_server.py 0 "$run_for"
                    ;;
            esac
            sim_status=0
            "$bin/simulate" --quiet --json -c "$c" -d "$DURATION" \
                "http://127.0.0.1:$server_port/API" "$tmp/posts/$post.xml" \
                >"$tmp/$tag.sim" 2>"$tmp/$tag.sim.err" || sim_status=$?
            server_status=0
            wait "$server_pid" || server_status=$?
            sim_line=$(tail -n 1 "$tmp/$tag.sim")
            server_line=$(tail -n 1 "$tmp/$tag.out")
            if ((sim_status > 1)) || [[ -z $sim_line ]]; then
                say "simulate failed on $tag (exit $sim_status): $(tail -n 3 "$tmp/$tag.sim.err")"
            fi
            if ((server_status != 0)); then
                say "$server exited with status $server_status on $tag: $(tail -n 3 "$tmp/$tag.err")"
            fi
            [[ -n $sim_line ]] || sim_line='{}'
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$post" "$c" "$server" "$sim_line" \
                "$server_line" "$(cpu_seconds "$tag")" "$round" >>"$tmp/results.tsv"
            done_runs=$((done_runs + 1))
            say "[$done_runs/$total] $post c=$c $server round $round: $server_line"
        done
      done
    done
done

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
    "command: $command_line" "$workers" <<'PY'
import json
import sys

path, machine, commit, command, workers = sys.argv[1:6]
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
        post, conns, server, sim, server_line, cpu, rnd = line.rstrip("\n").split("\t")
        try:
            sim = json.loads(sim)
        except ValueError:
            sim = {}
        srv = fields(server_line)
        ok = sim.get("ok")
        rate = ok / sim["elapsed_s"] if ok is not None and sim.get("elapsed_s") else None
        if server == "ceiling":
            ceiling[(post, conns, rnd)] = rate
        # What the server counted must match what the client saw answered.
        counted_key = "requests" if server == "ceiling" else "events"
        counted = srv.get(counted_key)
        problems = []
        if not sim:
            problems.append("no client report")
        elif sim.get("errors"):
            problems.append(f"errors={sim['errors']}")
        if counted is None:
            problems.append("no server report")
        elif ok is not None and counted != ok:
            problems.append(f"WARN {counted_key}={counted} ok={ok}")
        cpu_us = 1e6 * float(cpu) / ok if cpu and ok else None
        rows.append((post, conns, server, rate, sim, srv, cpu_us, problems, rnd))


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
for post, conns, server, rate, sim, srv, cpu_us, problems, rnd in rows:
    base = ceiling.get((post, conns, rnd))
    ratio = rate / base if rate is not None and base else None
    groups.setdefault((post, conns, server), []).append(
        (rate, sim, srv, cpu_us, problems, ratio))

table = []
for (post, conns, server), runs in groups.items():
    ratios = [r[5] for r in runs]
    rss = max((r[2].get("peak_rss_kb") or 0) for r in runs) or None
    problems = sorted({p for r in runs for p in r[4]})
    table.append([
        SIZES.get(post, post),
        conns,
        server,
        num(median(r[0] for r in runs), ",.0f"),
        num(median(r[1].get("p50_ms") for r in runs), ".3f"),
        num(median(r[1].get("p99_ms") for r in runs), ".3f"),
        num(rss / 1024 if rss else None, ".1f"),
        num(median(ratios), ".2f"),
        " ".join(num(x, ".2f") for x in ratios),
        num(median(r[3] for r in runs), ",.1f"),
        "; ".join(problems) or "ok",
    ])
head = ["post", "connections", "server", "posts/s", "p50 ms", "p99 ms",
        "peak RSS MB", "vs ceiling", "per round", "CPU us/post", "check"]
right = {1, 3, 4, 5, 6, 7, 9}
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
print(machine)
print(commit)
print(command)
print(f"servers: ceiling = bare tiny_http 0.12, {workers} workers, no parsing "
      "(examples/ceiling.rs); viewtron = examples/sink.rs, default settings"
      + ("; python-sdk = viewtron 1.4.1 from PyPI" if any(r[2] == "python-sdk" for r in rows) else ""))
print("posts/s = posts answered 200 per second of client time; p50/p99 = client latency; "
      "figures are medians over the rounds; vs ceiling = median of the per-round "
      "posts/s / ceiling posts/s (same post and connections, measured just before); "
      "CPU us/post = server user+system CPU time / posts answered 200; "
      "check = server count (events, or requests for the ceiling) equals posts answered 200")
PY

if $bridge; then
    echo
    DURATION=$DURATION ROUNDS=$ROUNDS CONNECTIONS=${BRIDGE_CONNECTIONS:-1 8} bash bench/bridge.sh
fi

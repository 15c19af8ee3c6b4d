#!/usr/bin/env bash
# User-space instructions per post, our server (bench/rigs sink) against the
# ceiling of its stack (bench/rigs ceiling), counted by valgrind's callgrind:
# the one figure here that load on the machine does not move. See
# bench/README.md.
#
#   bash bench/instructions.sh
#
# Each server runs under callgrind twice for the same SECONDS, once given
# FEW posts and once MANY over one keep-alive connection (simulate -n); the
# difference of the two totals over MANY - FEW is what one post costs, with
# start-up, idle wake-ups and shut-down cancelled out.
#
# Environment (defaults in brackets):
#   POSTS    posts to count, from: traject image [traject image]
#   FEW      posts in the short run [500]; the image post uses a fifth
#   MANY     posts in the long run [3000]; the image post uses a fifth
#   SECONDS_UNDER_VALGRIND  how long each server runs [20]
set -euo pipefail

case ${1:-} in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    '') ;;
    *) echo "instructions.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is needed" >&2; exit 1; }

POSTS=${POSTS:-traject image}
FEW=${FEW:-500}
MANY=${MANY:-3000}
RUN=${SECONDS_UNDER_VALGRIND:-20}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-instructions.XXXXXX")
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
say() { echo "instructions: $*" >&2; }

say "building the rigs and simulate (release)"
cargo build --release --quiet -p viewtron --example simulate
cargo build --release --quiet -p viewtron-bench-rigs --bin sink --bin ceiling
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
python3 bench/make_posts.py "$tmp/posts" >/dev/null

# total SERVER POST N: the server's whole-run instruction count with N posts.
total() {
    local server=$1 post=$2 n=$3 out=$tmp/cg.$1.$2.$3 waited=0 port
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$target_dir/release/$server" 0 "$RUN" >"$tmp/$server.out" 2>"$tmp/$server.err" &
    server_pid=$!
    until port=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$tmp/$server.err" |
        grep -o '[0-9]*$'); do
        if ! kill -0 "$server_pid" 2>/dev/null || ((waited >= 600)); then
            say "$server did not start listening under valgrind:"
            sed 's/^/instructions:   /' "$tmp/$server.err" >&2
            exit 1
        fi
        sleep 0.05
        waited=$((waited + 1))
    done
    # One post first, on a connection of its own, retried: bare tiny_http can
    # queue a new connection behind a pool thread that has not yet run
    # (src/server/transport/doorbell.rs), for good, and valgrind runs threads one at a
    # time. The warm-up post is in both runs, so it cancels out.
    local tries=0
    until timeout 10 "$target_dir/release/examples/simulate" --quiet -c 1 -n 1 \
        "http://127.0.0.1:$port/" "$tmp/posts/$post.xml" >/dev/null 2>&1; do
        tries=$((tries + 1))
        ((tries < 3)) || { say "$server never answered a first post under valgrind"; exit 1; }
    done
    "$target_dir/release/examples/simulate" --quiet -c 1 -n "$n" \
        "http://127.0.0.1:$port/" "$tmp/posts/$post.xml" >"$tmp/simulate.out" ||
        { say "simulate failed: $(cat "$tmp/simulate.out")"; exit 1; }
    wait "$server_pid"
    server_pid=
    grep -m1 '^totals:' "$out" | awk '{print $2}'
}

printf '| post | ceiling | viewtron | ratio |\n|---|--:|--:|--:|\n'
for post in $POSTS; do
    few=$FEW many=$MANY
    if [[ $post == image ]]; then few=$((FEW / 5)) many=$((MANY / 5)); fi
    declare -A per_post=()
    for server in ceiling sink; do
        say "$server, $post: $few then $many posts under callgrind (${RUN} s each)"
        low=$(total "$server" "$post" "$few")
        high=$(total "$server" "$post" "$many")
        per_post[$server]=$(((high - low) / (many - few)))
    done
    python3 - "$post" "${per_post[ceiling]}" "${per_post[sink]}" <<'EOF'
import sys
post, ceiling, sink = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(f"| {post} | {ceiling / 1000:.1f}k | {sink / 1000:.1f}k | {sink / ceiling:.2f} |")
EOF
done
echo
echo "machine: nproc=$(nproc), $(uname -r), $(rustc --version)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "user-space instructions per post (callgrind), 1 keep-alive connection; (MANY - FEW) posts, FEW=$FEW MANY=$MANY (a fifth for image)"

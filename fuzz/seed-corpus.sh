#!/usr/bin/env bash
# Builds the seed corpora fuzz/corpus/<target>/ from the project's sample
# posts, tests/fixtures/*.xml. Safe to re-run: seeds are overwritten in place,
# inputs libFuzzer found since are kept.
#
#   fuzz/seed-corpus.sh                  # every target below
#   fuzz/seed-corpus.sh parse            # just one
#   FIXTURES=dir fuzz/seed-corpus.sh     # seeds from dir/*.xml instead
#
# Fixtures over 64 KiB get their image payloads cut to $SEED_IMAGE_CHARS
# base64 characters (default 256; a whole number of 4-character groups, so
# they stay valid base64): a 500 KB seed would make every fuzz iteration slow
# and would raise libFuzzer's -max_len to match. That needs python3; without
# it, such fixtures are skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures=${FIXTURES:-$(dirname "$here")/tests/fixtures}
max_chars=${SEED_IMAGE_CHARS:-256}
big=$((64 * 1024))

if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(parse decode_images request); fi

have_python=false
command -v python3 >/dev/null 2>&1 && have_python=true

# shrink SRC DST: copies SRC, cutting every <…Base64Data> text to $max_chars.
shrink() {
  python3 - "$1" "$2" "$max_chars" <<'PY'
import re, sys
src, dst, keep = sys.argv[1], sys.argv[2], int(sys.argv[3]) // 4 * 4
text = open(src, "rb").read()
def cut(m):
    data = re.sub(rb"\s+", b"", m.group(2))
    return m.group(1) + data[:keep] + m.group(3)
pattern = rb"(Base64Data[^>]*>\s*(?:<!\[CDATA\[)?)([A-Za-z0-9+/=\s]+?)(\s*(?:\]\]>)?\s*</)"
open(dst, "wb").write(re.sub(pattern, cut, text))
PY
}

# xml_seeds DIR: one seed per fixture.
xml_seeds() {
  local dir=$1 n=0 f name
  shopt -s nullglob
  for f in "$fixtures"/*.xml; do
    name=fixture-$(basename "$f")
    if [ "$(wc -c <"$f")" -le "$big" ]; then
      cp "$f" "$dir/$name"
    elif $have_python; then
      shrink "$f" "$dir/$name"
    else
      echo "  skipping $(basename "$f") (over 64 KiB and no python3 to shrink it)"
      continue
    fi
    n=$((n + 1))
  done
  shopt -u nullglob
  [ "$n" -gt 0 ] || echo "  warning: no fixtures in $fixtures; libFuzzer starts from nothing"
  echo "  ${dir#"$here"/}: $n seeds from $fixtures"
}

# http_seeds DIR: raw requests as cameras and NVRs send them, with small
# fixtures as bodies, in the framings the server accepts.
http_seeds() {
  local dir=$1 n=0 f name len
  shopt -s nullglob
  for f in "$fixtures"/*.xml; do
    [ "$(wc -c <"$f")" -le 8192 ] || continue
    name=$(basename "$f" .xml)
    len=$(wc -c <"$f")
    { printf 'POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\nContent-Length: %s\r\n\r\n' "$len"; cat "$f"; } >"$dir/ka-$name"
    { printf 'POST http://127.0.0.1:5050/API HTTP/1.1\r\nContent-Type: application/soap+xml\r\nConnection: close\r\nContent-Length: %s\r\n\r\n' "$len"; cat "$f"; } >"$dir/nvr-$name"
    { printf 'POST /API HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n' "$len"; cat "$f"; printf '\r\n0\r\n\r\n'; } >"$dir/chunked-$name"
    n=$((n + 3))
  done
  shopt -u nullglob
  printf 'POST /API HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.0\r\n\r\n' >"$dir/keepalive-then-get"
  printf 'POST /API HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\nAuthorization: Basic eDp5\r\n\r\n<a/>' >"$dir/expect"
  echo "  ${dir#"$here"/}: $((n + 2)) seeds from $fixtures"
}

for target in "${targets[@]}"; do
  dir=$here/corpus/$target
  mkdir -p "$dir"
  case $target in
    parse | decode_images) xml_seeds "$dir" ;;
    request) http_seeds "$dir" ;;
    *) echo "  $target: no seeds defined; starting from an empty corpus" ;;
  esac
done

#!/usr/bin/env bash
# Regenerate the golden capture: what the vendor's Python bridge publishes
# (MQTT and webhooks) for this repository's fixtures.
#
#   bash bridge/compat/capture.sh VENDOR [OUT]
#
# VENDOR   a checkout of the vendor's Home Assistant bridge
#          (mikehaldas/viewtron-home-assistant), or its viewtron_bridge.py.
#          It is not part of this repository and is never copied into it.
# OUT      where to write [bridge/tests/golden/vendor-capture.json]
#
# Environment (defaults in brackets):
#   VENV        the Python venv to run it in; created when missing, with the
#               bridge's dependencies at the versions below
#               [${XDG_CACHE_HOME:-~/.cache}/viewtron-compat/venv]
#   PYTHON      the interpreter that creates the venv [python3.12, or
#               ~/.pyenv/versions/3.12.*/bin/python]
#   CAPTURE_TZ  the time zone the bridge runs in [IST-5:30: a POSIX zone
#               that needs no tz database and is not UTC, so a bridge that
#               ignores TZ shows up in the diff]
#   CAMERA_IP   the loopback address the posts come from [127.0.0.1, where
#               the compatibility test posts from]; a fixture that names its
#               own in a `<!-- camera address: 127.0.0.N -->` comment (those
#               in tests/fixtures/names/) comes from that one instead
#
# Needs mosquitto and mosquitto_sub/mosquitto_pub (Debian: mosquitto,
# mosquitto-clients). The vendor's bridge runs unchanged, through
# run_vendor.py, which narrows its listening address to 127.0.0.1.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case ${1:-} in -h | --help) usage; exit 0 ;; "") usage >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
vendor=$1
out=${2:-$root/bridge/tests/golden/vendor-capture.json}
if [ -d "$vendor" ]; then
    script=$(find "$vendor" -name viewtron_bridge.py -not -path '*/venv/*' | head -n 1)
else
    script=$vendor
fi
[ -n "$script" ] && [ -f "$script" ] || { echo "capture.sh: no viewtron_bridge.py in $vendor" >&2; exit 2; }
for tool in mosquitto mosquitto_sub mosquitto_pub; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        { echo "capture.sh: $tool is missing (apt-get install mosquitto mosquitto-clients)" >&2; exit 2; }
done
export PATH=$PATH:/usr/sbin

# Where the vendor's bridge came from, recorded in the capture.
source_desc=$script
vendor_git=$(cd "$(dirname "$script")" && git rev-parse --show-toplevel 2>/dev/null || true)
if [ -n "$vendor_git" ]; then
    source_desc="$(basename "$vendor_git")@$(git -C "$vendor_git" rev-parse HEAD)"
elif [ -f "$vendor/.source" ]; then
    source_desc=$(cat "$vendor/.source")
fi

venv=$(bash "$here/vendor-venv.sh")

mkdir -p "$(dirname "$out")"
TZ=${CAPTURE_TZ:-IST-5:30} "$venv/bin/python" "$here/capture.py" \
    --script "$script" --fixtures "$root/tests/fixtures" --out "$out" \
    --camera-ip "${CAMERA_IP:-127.0.0.1}" --source "$source_desc"

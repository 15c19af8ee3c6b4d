#!/usr/bin/env bash
# The real consumer: our fixtures through the vendor's Python bridge and then
# through viewtron-bridge into a real Home Assistant, and a comparison of what
# Home Assistant made of each.
#
#   bash bridge/compat/home-assistant.sh [--vendor PATH] [--out DIR] [--app]
#
# --vendor PATH  the vendor's bridge (checkout of
#                mikehaldas/viewtron-home-assistant or its viewtron_bridge.py);
#                also VENDOR_BRIDGE. Without it, the vendor's side is taken
#                from bridge/tests/golden/home-assistant-vendor.json (written
#                by the last run that had it).
# --out DIR      keep both results and both Home Assistant folders there
# --app          run ours as the Home Assistant app runs it: `--app` with the
#                vendor's options as the Supervisor writes them (options.json)
#
# Passes (exit 0) when every entity the vendor's bridge made Home Assistant
# create, ours makes it create too, with the same entity id, unique id, name,
# device class, icon and attributes (what automations read; saved image paths
# by presence, wall-clock stamps not compared), every licence-plate sensor
# ends in the same state, every device has the same name, identifiers,
# manufacturer, model and configuration URL, and Home Assistant's log shows no
# MQTT warning or error for ours. Extra attributes of ours are allowed; extra
# entities must be ours by name (ADDED: the event, connectivity and last-seen
# entities, each on the same device as the vendor's entities of its camera;
# or the vendor's kinds for the posts it ignores); the differences made on
# purpose (bridge/README.md) are listed in KNOWN below and reported as
# intentional. Ours must also pass its own checks in Home Assistant (see
# home_assistant.py: the same plate twice fires twice, a silent camera goes
# offline).
#
# Environment (defaults in brackets):
#   HA_VERSION   the homeassistant release [2025.4.4]
#   HA_VENV      its venv [${XDG_CACHE_HOME:-~/.cache}/viewtron-compat/ha-venv],
#                created when missing with Python 3.13 (PYTHON313, or pyenv's
#                3.13.*), constrained by the release's own package_constraints.txt
#
# Heavy: the first run installs Home Assistant (several minutes); a run then
# takes a minute or two per bridge. Needs mosquitto and mosquitto-clients.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
vendor=${VENDOR_BRIDGE:-}
out=
ours_mode=()
while [ $# -gt 0 ]; do
    case $1 in
        --vendor) vendor=${2:?--vendor needs a path}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --app) ours_mode=(--app); shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "home-assistant.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
say() { echo "home-assistant: $*" >&2; }
export PATH=$PATH:/usr/sbin
for tool in mosquitto mosquitto_sub mosquitto_pub; do
    command -v "$tool" >/dev/null || { say "$tool is missing (apt-get install mosquitto mosquitto-clients)"; exit 2; }
done

# -- Home Assistant
version=${HA_VERSION:-2025.4.4}
venv=${HA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/viewtron-compat/ha-venv}
if ! "$venv/bin/python" -c "import homeassistant.const as c, hass_frontend, sys; sys.exit(c.__version__ != '$version')" 2>/dev/null; then
    python=${PYTHON313:-$(ls -d "$HOME"/.pyenv/versions/3.13.*/bin/python 2>/dev/null | tail -n 1 || true)}
    [ -n "$python" ] || python=$(command -v python3.13 || true)
    [ -n "$python" ] || { say "no Python 3.13 found; set PYTHON313"; exit 2; }
    say "installing homeassistant $version into $venv with $python (takes minutes)"
    "$python" -m venv "$venv"
    wheels=$(mktemp -d)
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$wheels" "homeassistant==$version"
    wheel=$(ls "$wheels"/homeassistant-*.whl)
    # The release's own pins: without them pip backtracks for an hour.
    "$venv/bin/python" - "$wheel" "$wheels" <<'PY'
import json, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
open(f"{out}/constraints.txt", "wb").write(z.read("homeassistant/package_constraints.txt"))
# What this test loads beyond the core: MQTT, and the frontend, without which
# Home Assistant starts in recovery mode (no config entries).
reqs = [r for d in ("mqtt", "frontend")
        for r in json.loads(z.read(f"homeassistant/components/{d}/manifest.json"))["requirements"]]
open(f"{out}/requirements.txt", "w").write("\n".join(reqs) + "\n")
PY
    "$venv/bin/pip" install --quiet --disable-pip-version-check -c "$wheels/constraints.txt" \
        "$wheel" -r "$wheels/requirements.txt"
    rm -rf "$wheels"
fi

# -- the bridges
say "building viewtron-bridge (release)"
(cd "$root" && cargo build --release --quiet -p viewtron-bridge --bin viewtron-bridge)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

work=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-ha-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
run() { # run NAME ARGS...: one Home Assistant run
    local name=$1
    shift
    say "run with $name's bridge"
    python3 "$here/home_assistant.py" --hass "$venv/bin/hass" --fixtures "$root/tests/fixtures" \
        --out "$work/$name.json" ${out:+--keep "$out/ha-$name"} "$@"
}
golden=$root/bridge/tests/golden/home-assistant-vendor.json
if [ -n "$vendor" ]; then
    script=$vendor
    [ -d "$vendor" ] && script=$(find "$vendor" -name viewtron_bridge.py -not -path '*/venv/*' | head -n 1)
    [ -f "$script" ] || { say "no viewtron_bridge.py in $vendor"; exit 2; }
    vvenv=$(bash "$here/vendor-venv.sh")
    run vendor --vendor "$vvenv/bin/python" "$script"
    cp "$work/vendor.json" "$golden"
    say "stored the vendor's result in ${golden#"$root"/}"
else
    [ -f "$golden" ] || { say "no --vendor and no $golden"; exit 2; }
    cp "$golden" "$work/vendor.json"
fi
run ours --ours "$target_dir/release/viewtron-bridge" "${ours_mode[@]}"
if [ -n "$out" ]; then cp "$work/vendor.json" "$work/ours.json" "$out/"; fi

python3 - "$work/vendor.json" "$work/ours.json" <<'PY'
import json, sys

# Where ours differs on purpose (bridge/README.md, "Differences from the
# vendor"): entity id -> why. A listed entity that no longer differs fails.
KNOWN = {
    "sensor.viewtron_service_road_east_license_plate":
        "two plate items: the vendor reports the second plate, ours the first",
    "sensor.viewtron_service_road_east_status":
        "two plate items: the vendor reports the second plate's list, ours the first's",
}
# Attributes compared by presence only: paths of saved images (folder and
# wall-clock stamp differ per run), Home Assistant's own per-run values.
BY_PRESENCE = {"overview_image", "target_image"}
# Our entities beyond the vendor's, by unique id suffix (bridge/README.md,
# "What it publishes").
ADDED = ("_plate_event", "_intrusion_event", "_face_event", "_counting_event",
         "_connectivity", "_last_seen")
# The vendor's kinds: an extra one of these is a post the vendor ignores.
VENDOR_KINDS = ("_plate", "_plate_authorized", "_overview", "_target", "_intrusion", "_face",
                "_counting")
SKIP = {"friendly_name", "entity_picture", "access_token"}

vendor, ours = (json.load(open(p)) for p in sys.argv[1:3])
problems, known_seen = [], set()
mine = {e["unique_id"]: e for e in ours["entities"]}
plate = lambda e: e["unique_id"].endswith(("_plate", "_plate_authorized"))


def wallclock(value, run):
    return isinstance(value, str) and value.startswith(run["run_date"])


for e in vendor["entities"]:
    o = mine.pop(e["unique_id"], None)
    if o is None:
        problems.append(f"{e['entity_id']} ({e['unique_id']}): missing")
        continue
    found = []
    for key in ("entity_id", "name", "device_class", "icon"):
        if o[key] != e[key]:
            found.append(f"{key} ours {o[key]!r}, vendor {e[key]!r}")
    if plate(e) and o["state"] != e["state"]:
        found.append(f"state ours {o['state']!r}, vendor {e['state']!r}")
    for key, value in e["attributes"].items():
        if key in SKIP:
            continue
        if key not in o["attributes"]:
            found.append(f"attribute {key} missing, vendor {value!r}")
        elif key in BY_PRESENCE or (key == "timestamp" and wallclock(value, vendor)):
            continue
        elif o["attributes"][key] != value:
            found.append(f"attribute {key} ours {o['attributes'][key]!r}, vendor {value!r}")
    if e["entity_id"] in KNOWN and found:
        known_seen.add(e["entity_id"])
        print(f"  intentional: {e['entity_id']}: {'; '.join(found)} ({KNOWN[e['entity_id']]})")
    else:
        problems += [f"{e['entity_id']}: {f}" for f in found]
problems += [f"{k}: listed as a known difference but no longer differs" for k in KNOWN if k not in known_seen]
ours_devices = {json.dumps(d["identifiers"]): d for d in ours["devices"]}
for d in vendor["devices"]:
    o = ours_devices.get(json.dumps(d["identifiers"]))
    if o is None:
        problems.append(f"device {d['name']!r} {d['identifiers']}: missing")
        continue
    for key in ("name", "manufacturer", "model", "configuration_url"):
        if o[key] != d[key]:
            problems.append(f"device {d['identifiers']}: {key} ours {o[key]!r}, vendor {d[key]!r}")
problems += [f"Home Assistant log (ours): {l}" for l in ours["mqtt_log_problems"]]
print(f"Home Assistant {ours['ha_version']}: vendor's bridge -> {len(vendor['entities'])} entities, "
      f"{len(vendor['devices'])} devices; ours -> {len(ours['entities'])} entities, {len(ours['devices'])} devices")
theirs = {e["unique_id"]: e for e in vendor["entities"]}
for e in ours["entities"]:
    v = theirs.get(e["unique_id"])
    if v is not None and plate(v):
        print(f"  {e['entity_id']:50} vendor {v['state']!r:16} ours {e['state']!r}")
for l in vendor["mqtt_log_problems"][:10]:
    print(f"  (vendor's run logged: {l})")
def camera_of(unique_id, suffixes):
    for s in sorted(suffixes, key=len, reverse=True):
        if unique_id.endswith(s):
            return unique_id[:-len(s)]
    return None


vendor_device = {}  # camera id -> the device of its vendor entities (in ours)
for e in ours["entities"]:
    cam = camera_of(e["unique_id"], VENDOR_KINDS)
    if cam is not None and not e["unique_id"].endswith(ADDED):
        vendor_device.setdefault(cam, e.get("device_id"))
added, ignored = {}, 0
for e in mine.values():
    uid = e["unique_id"]
    if uid.endswith(ADDED):
        kind = next(s for s in ADDED if uid.endswith(s)).lstrip("_")
        added[kind] = added.get(kind, 0) + 1
        cam = camera_of(uid, ADDED)
        if cam in vendor_device and e.get("device_id") != vendor_device[cam]:
            problems.append(f"{e['entity_id']}: not on the device of its camera's other entities")
    elif uid.startswith("viewtron_repeat_gate_") and uid.endswith(VENDOR_KINDS):
        print(f"  extra entity of ours, the camera of the same-plate check: {e['entity_id']} ({uid})")
    elif uid.endswith(VENDOR_KINDS):
        ignored += 1
        print(f"  extra entity of ours, a post the vendor ignores: {e['entity_id']} ({uid})")
    else:
        problems.append(f"{e['entity_id']} ({uid}): an extra entity that is none of ours")
shared = sum(1 for e in ours["entities"] if e["unique_id"].endswith(ADDED)
             and camera_of(e["unique_id"], ADDED) in vendor_device)
print(f"  our additions (allowed): {sum(added.values())} entities {added}, {shared} of them on a "
      f"device with the vendor's entities, each on that same device")
checks = ours.get("additions") or {}
if not checks:
    problems.append("ours: no result of the additions' checks in Home Assistant")
else:
    r, c = checks["repeat_plate"], checks["connectivity"]
    print(f"  same plate posted {r['posts']} times: event entity fired {len(r['event_states'])} times, "
          f"types {r['event_types']}; the vendor's plate sensor states {r['plate_sensor_states']}")
    links = [e for e in ours["entities"] if e["unique_id"].endswith("_connectivity")]
    print(f"  silent camera: connectivity {' -> '.join(c['states'])}, off {c['off_after_s']} s after its "
          f"last post (camera_timeout {c['camera_timeout_s']} s); at the end "
          f"{sum(e['state'] == 'off' for e in links)} of {len(links)} connectivity entities off")
if problems:
    print(f"FAILED: {len(problems)} differences")
    for p in problems:
        print(f"  {p}")
    sys.exit(1)
print("PASSED: every entity (entity id, unique id, name, class, icon, attributes), device and plate "
      "state the vendor's bridge made, ours makes; no MQTT warning or error in Home Assistant's log; "
      "our additions on the vendor's devices, the same plate twice fires twice, a silent camera goes off")
PY

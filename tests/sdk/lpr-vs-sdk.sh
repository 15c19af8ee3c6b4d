#!/usr/bin/env bash
# Diffs this crate against the vendor's Python SDK (`viewtron` 1.4.1, the
# implementation it replaces) on every IP camera (v1) LPR fixture: plate
# text, group, direction, confidence, vehicle attributes, and the decoded
# sizes of the overview and of the plate crop, as `dump` prints them and as
# the SDK's getters return them.
#
# Where the crate differs on purpose, KNOWN below says so with the reason
# and the exact values on both sides; any other difference (or a KNOWN one
# that no longer happens) fails. The SDK is installed into a throw-away
# virtual environment; without python3 or the package the script says why
# and skips (exit 0), as deploy/nginx/test.sh does without nginx.
#
#   bash tests/sdk/lpr-vs-sdk.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
skip() {
  echo "lpr-vs-sdk: skipped: $*"
  exit 0
}
command -v python3 >/dev/null 2>&1 || skip "no python3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv" >/dev/null 2>&1 || skip "python3 cannot create a virtual environment"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check viewtron==1.4.1 ||
  skip "the viewtron 1.4.1 package could not be installed"

fixtures=(tests/fixtures/v1-lpr-*.xml)
cargo run --quiet --release --example dump -- "${fixtures[@]}" >"$work/dump.jsonl"
"$work/venv/bin/python" - "$work/dump.jsonl" <<'PY'
import base64, json, os, sys
from viewtron import ViewtronEvent

# (file, field): (SDK value, crate value, why the crate differs)
KNOWN = {
    ("v1-lpr-empty-fields.xml", "plate"): ("", None, "empty plate text is no plate"),
    ("v1-lpr-no-plate-read.xml", "plate"): ("", None, "no plate read: no plate"),
    ("v1-lpr-no-plate-read.xml", "confidence"): (0.0, None, "no plate, no confidence"),
    ("v1-lpr-no-plate-read.xml", "crop"): (
        161, None, "the SDK gives the overview as the plate crop too; it is no crop"),
    ("v1-lpr-single-item.xml", "source"): (
        161, 164, "the SDK takes item 0's picture as the overview even when item 0 "
        "is the plate (its crop); the overview is sourceDataInfo's"),
}
# Two plate items in one post (no overview item): plate() is the first plate
# read and plates() has both; the SDK takes item 1 by position, and item 0's
# crop as the overview.
TWO = "v1-lpr-vehicle.xml"
for field, sdk, ours in [
    ("plate", "RB-558-QZ", "DN 3301 K"), ("group", None, "whiteList"),
    ("direction", "away", "approach"), ("confidence", 86.5, 99.0),
    ("vehicle_color", None, "white"), ("vehicle_type", None, "suv"),
    ("source", 161, 163), ("crop", None, 161),
]:
    KNOWN[(TWO, field)] = (sdk, ours, "two plate items")

def size(b64):
    return len(base64.b64decode(b64)) if b64 else None

failures, seen = [], set()
for line in open(sys.argv[1], encoding="utf-8"):
    post = json.loads(line)
    path = post["file"]
    name = os.path.basename(path)
    event = ViewtronEvent(open(path, encoding="utf-8").read())
    plate = post["plate"] or {}
    vehicle = post["vehicle"] or {}
    pairs = {
        "plate": (event.get_plate_number(), plate.get("number")),
        "group": (event.get_plate_group() or None, plate.get("group")),
        "direction": (event.direction, plate.get("direction")),
        "confidence": (event.confidence, plate.get("confidence")),
        "source": (size(event.get_source_image()), post["source_image_len"]),
        "crop": (size(event.get_target_image()), post["target_image_len"]),
    }
    for attr in ("color", "type", "brand", "model"):
        pairs["vehicle_" + attr] = (getattr(event, "vehicle_" + attr), vehicle.get(attr))
    before = len(failures)
    for field, (sdk, ours) in pairs.items():
        known = KNOWN.get((name, field))
        if known:
            seen.add((name, field))
            if (sdk, ours) != known[:2]:
                failures.append(f"{name} {field}: SDK {sdk!r}, crate {ours!r}; "
                                f"KNOWN says {known[0]!r} / {known[1]!r} ({known[2]})")
        elif sdk != ours:
            failures.append(f"{name} {field}: SDK {sdk!r}, crate {ours!r}")
    verdict = "FAIL" if len(failures) > before else (
        "differs as KNOWN" if any(k[0] == name for k in KNOWN) else "same as the SDK")
    print(f"  {name:45} plate {plate.get('number')!r:14} {verdict}")
failures += [f"{n} {f}: KNOWN, but the file was not compared" for n, f in KNOWN if (n, f) not in seen]
if failures:
    print("lpr-vs-sdk: the crate and the SDK disagree:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"lpr-vs-sdk: the crate agrees with the SDK on every v1 LPR fixture "
      f"but for the {len(KNOWN)} KNOWN differences")
PY

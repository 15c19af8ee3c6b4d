#!/usr/bin/env python3
"""Feed our fixtures through a bridge into a real Home Assistant; record what it made.

Run by `home-assistant.sh`, once per bridge. For each run: a private mosquitto
on a free loopback port; a fresh Home Assistant config folder whose
`.storage/core.config_entries` holds an MQTT config entry for that broker
(as if a user had added the integration) and whose `configuration.yaml` loads
`mqtt_statestream`, so Home Assistant publishes every entity's state back to
the broker; Home Assistant itself (its HTTP server pinned to 127.0.0.1); then
the bridge, and every fixture (`fixtures.py`: `tests/fixtures/*.xml`, then its
subfolders) posted once, from 127.0.0.1 or from the loopback address the
fixture names in a `<!-- camera address: ... -->` comment.

With `--ours`, the run then checks our additions in Home Assistant itself
(`check_additions`): a licence plate posted twice by a new camera fires its
`event` entity twice (two state changes, event type `allowed` both times,
where the vendor's plate sensor does not change), and the camera's
connectivity binary sensor, `on` after the posts, turns `off` once the camera
has been silent for the run's short `camera_timeout` (CAMERA_TIMEOUT s); the
figures go into the result (`additions`). Any of it failing fails the run.

Done is decided by events, not by waiting: a sentinel post follows the
fixtures (the bridge publishes it after everything before it), then a sentinel
entity of our own is discovered, with a retained state; once Home Assistant
reports that state, it has read every earlier discovery message. Then every
discovered entity must have reported a state, Home Assistant is stopped (it writes its registries on
the way out) and the result is written as JSON: entities (entity id, unique
id, platform, state, attributes) and the log lines that mention MQTT at
warning level or above.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import fixtures as fixture_files

SENTINEL_TOPIC = "compat/sentinel/state"
STATESTREAM = "hastate"
# Our run's `mqtt.camera_timeout`: short, so a camera is seen going offline.
CAMERA_TIMEOUT = 3
# The camera that posts the same plate twice (a device of its own, so the
# vendor comparison is untouched): from 127.0.0.1.
REPEAT_CAMERA = "Repeat Gate"
REPEAT_PLATE = "RPT 2020"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, deadline, alive=None):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        if alive is not None:
            alive()
        time.sleep(0.1)
    sys.exit(f"home-assistant: timed out after {deadline:.0f}s waiting for {what}")


def post(port, body, camera="127.0.0.1"):
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(camera, 0)) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/") else b"?"
    if status != b"200":
        sys.exit(f"home-assistant: the bridge answered {answer[:200]!r}")


def sentinel_post():
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<config version="1.7" xmlns="http://www.ipc.com/ver10">'
            b'<smartType type="openAlramObj">VSD</smartType>'
            b'<currentTime type="tint64">1</currentTime>'
            b'<deviceName type="string"><![CDATA[Capture Sentinel]]></deviceName></config>\n')


def repeat_post(plate):
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<config version="1.7" xmlns="http://www.ipc.com/ver10">'
            b'<smartType type="openAlramObj">VEHICE</smartType>'
            b'<currentTime type="tint64">1767612345678901</currentTime>'
            b'<deviceName type="string"><![CDATA[' + REPEAT_CAMERA.encode() + b']]></deviceName>'
            b'<listInfo type="list" count="1"><item>'
            b'<plateNumber type="string"><![CDATA[' + plate.encode() + b']]></plateNumber>'
            b'<vehicleListType type="string">whiteList</vehicleListType>'
            b'</item></listInfo></config>\n')


def check_additions(rec, bridge_port, alive):
    """Our additions, as Home Assistant sees them (statestream): the same
    plate twice fires the event entity twice; the camera's connectivity goes
    `on`, then `off` after CAMERA_TIMEOUT s of silence. Returns the figures;
    exits on a failure."""
    slug = REPEAT_CAMERA.lower().replace(" ", "_")
    event_state = f"{STATESTREAM}/event/viewtron_{slug}_license_plate_event/state"
    event_type = f"{STATESTREAM}/event/viewtron_{slug}_license_plate_event/event_type"
    plate_state = f"{STATESTREAM}/sensor/viewtron_{slug}_license_plate/state"
    online = f"{STATESTREAM}/binary_sensor/viewtron_{slug}_connectivity/state"

    def values(topic):
        return [p.decode("utf-8", "replace") for _, t, p in rec.snapshot() if t == topic]

    def fired():
        return [v for v in values(event_state) if v not in ("unknown", "unavailable")]

    for n in (1, 2):
        post(bridge_port, repeat_post(REPEAT_PLATE))
        last_post = time.monotonic()
        wait_for(f"Home Assistant's event entity to fire {n} time(s)", lambda: len(fired()) >= n, 60, alive)
    events = fired()
    types = [json.loads(v) for v in values(event_type)]
    plates = sorted(set(values(plate_state)) - {"unknown", "unavailable"})
    if len(events) != 2 or len(set(events)) != 2 or types[-2:] != ["allowed", "allowed"]:
        sys.exit(f"home-assistant: the same plate twice: event states {events}, types {types}")
    print(f"home-assistant: the same plate twice: event entity fired {len(events)} times "
          f"({', '.join(events)}), event_type {types[-2:]}; the vendor's plate sensor: {plates}",
          file=sys.stderr)
    wait_for("the camera's connectivity on in Home Assistant", lambda: "on" in values(online), 30, alive)
    wait_for("the camera's connectivity off in Home Assistant",
             lambda: values(online)[-1:] == ["off"], 30 + CAMERA_TIMEOUT, alive)
    off_after = time.monotonic() - last_post
    if off_after < CAMERA_TIMEOUT - 0.5:
        sys.exit(f"home-assistant: offline after {off_after:.1f} s, before the {CAMERA_TIMEOUT} s timeout")
    print(f"home-assistant: connectivity in Home Assistant: {' -> '.join(values(online))}; "
          f"off {off_after:.1f} s after the last post (camera_timeout {CAMERA_TIMEOUT} s)", file=sys.stderr)
    return {
        "repeat_plate": {"posts": 2, "event_states": events, "event_types": types[-2:],
                         "plate_sensor_states": plates},
        "connectivity": {"states": values(online), "off_after_s": round(off_after, 1),
                         "camera_timeout_s": CAMERA_TIMEOUT},
    }


class Recorder:
    """Every message on the broker: (retain, topic, payload bytes)."""

    def __init__(self, port):
        self.items = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", "compat-recorder",
             "-V", "5", "-q", "1", "--retain-as-published", "-t", "#", "-F", "%r %t %x"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            fields = raw.decode("utf-8", "replace").rstrip("\n").split(" ", 2)
            if len(fields) < 2:
                continue
            payload = bytes.fromhex(fields[2]) if len(fields) > 2 else b""
            with self.lock:
                self.items.append((fields[0] == "1", fields[1], payload))

    def snapshot(self):
        with self.lock:
            return list(self.items)


def write_home_assistant_config(folder, mqtt_port, http_port):
    os.makedirs(os.path.join(folder, ".storage"))
    with open(os.path.join(folder, "configuration.yaml"), "w") as f:
        f.write(f"""homeassistant:
  name: viewtron compat
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: GB
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {http_port}
logger:
  default: info
mqtt_statestream:
  base_topic: {STATESTREAM}
  publish_attributes: true
""")
    # What the MQTT integration's config flow stores when a user adds it.
    entry = {
        "entry_id": "01JCOMPATMQTTENTRY00000000",
        "version": 1,
        "minor_version": 2,
        "domain": "mqtt",
        "title": "127.0.0.1",
        "data": {"broker": "127.0.0.1", "port": mqtt_port},
        "options": {},
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
    }
    with open(os.path.join(folder, ".storage", "core.config_entries"), "w") as f:
        json.dump({"version": 1, "minor_version": 1, "key": "core.config_entries",
                   "data": {"entries": [entry]}}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hass", required=True, help="the hass executable")
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep", help="copy the run's folder (Home Assistant's, logs) here")
    bridge = ap.add_mutually_exclusive_group(required=True)
    bridge.add_argument("--ours", help="the viewtron-bridge binary")
    bridge.add_argument("--vendor", nargs=2, metavar=("PYTHON", "SCRIPT"),
                        help="the vendor's venv python and viewtron_bridge.py")
    ap.add_argument("--app", action="store_true",
                    help="run ours as the Home Assistant app does: --app with an options.json")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="viewtron-ha.")
    children = []

    def start(cmd, **kw):
        child = subprocess.Popen(cmd, **kw)
        children.append(child)
        return child

    try:
        mqtt_port, http_port, bridge_port = free_port(), free_port(), free_port()
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest stderr\nlog_type all\n")
        broker_log = os.path.join(work, "mosquitto.log")
        start(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(broker_log, "w"))
        wait_for("mosquitto", lambda: subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-i", "compat-ping", "-t",
             "compat/ping", "-n"], stderr=subprocess.DEVNULL).returncode == 0, 20)
        rec = Recorder(mqtt_port)
        children.append(rec.proc)

        def pub(topic, payload, retain=False):
            cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-i", "compat-pub",
                   "-t", topic, "-m", payload, "-q", "1"] + (["-r"] if retain else [])
            subprocess.run(cmd, check=True)

        wait_for("the recorder", lambda: pub("compat/ping", "x") or any(
            t == "compat/ping" for _, t, _ in rec.snapshot()), 20)

        # -- Home Assistant
        ha_dir = os.path.join(work, "ha")
        write_home_assistant_config(ha_dir, mqtt_port, http_port)
        ha_log = os.path.join(ha_dir, "home-assistant.log")
        started = time.monotonic()
        hass = start([args.hass, "-c", ha_dir, "--skip-pip", "--log-file", ha_log],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ha_alive():
            if hass.poll() is not None:
                sys.exit("home-assistant: Home Assistant exited:\n" + open(ha_log).read()[-4000:])

        # Its MQTT integration says `online` on homeassistant/status once connected
        # and subscribed; statestream then publishes what it has.
        wait_for("Home Assistant's MQTT birth message", lambda: any(
            t == "homeassistant/status" and p == b"online" for _, t, p in rec.snapshot()), 600, ha_alive)
        print(f"home-assistant: Home Assistant up after {time.monotonic() - started:.0f}s", file=sys.stderr)

        # -- the bridge
        bridge_dir = os.path.join(work, "bridge")
        os.makedirs(bridge_dir)
        config = (f"bridge_port: {bridge_port}\nmqtt:\n  enabled: true\n  broker: 127.0.0.1\n"
                  f"  port: {mqtt_port}\n")
        env = {k: v for k, v in os.environ.items()
               if k not in ("BRIDGE_PORT", "MQTT_BROKER", "MQTT_PORT", "MQTT_USERNAME",
                            "MQTT_PASSWORD", "SAVE_IMAGES")}
        env.update(TZ="UTC", PYTHONUNBUFFERED="1")
        bridge_log = open(os.path.join(work, "bridge.log"), "w")
        if args.ours and args.app:
            # The vendor's option set as the Supervisor writes it (images
            # on, as the vendor's run saves them), plus ours for the
            # connectivity check; no Supervisor here, so the broker is named
            # (with no login, the bridge would ask the Supervisor for one:
            # without a token it takes none), and `share` is a folder here.
            options = {"bridge_port": bridge_port, "mqtt_broker": "127.0.0.1",
                       "mqtt_port": mqtt_port, "mqtt_username": "", "mqtt_password": "",
                       "save_images": True, "camera_timeout": CAMERA_TIMEOUT}
            path = os.path.join(bridge_dir, "options.json")
            with open(path, "w") as f:
                json.dump(options, f, indent=2)
            env.pop("SUPERVISOR_TOKEN", None)
            env["VIEWTRON_SHARE_DIR"] = os.path.join(bridge_dir, "share")
            cmd = [args.ours, "--app", path]
        elif args.ours:
            config += f"  camera_timeout: {CAMERA_TIMEOUT}\n" + "server:\n  bind: 127.0.0.1\n"
            with open(os.path.join(bridge_dir, "config.yaml"), "w") as f:
                f.write(config)
            cmd = [args.ours, "--config", os.path.join(bridge_dir, "config.yaml")]
        else:
            python, script = args.vendor
            shutil.copy(script, os.path.join(bridge_dir, "viewtron_bridge.py"))
            with open(os.path.join(bridge_dir, "config.yaml"), "w") as f:
                f.write(config)
            wrapper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_vendor.py")
            cmd = [python, wrapper, os.path.join(bridge_dir, "viewtron_bridge.py")]
        bridge = start(cmd, cwd=bridge_dir, env=env, stdout=bridge_log, stderr=subprocess.STDOUT)

        def bridge_alive():
            if bridge.poll() is not None:
                sys.exit("home-assistant: the bridge exited:\n" + open(bridge_log.name).read()[-4000:])

        def bridge_connected():
            lines = open(broker_log).read().splitlines()
            return any("New client connected" in l and " as compat-" not in l for l in lines)

        def port_open():
            try:
                socket.create_connection(("127.0.0.1", bridge_port), 1).close()
                return True
            except OSError:
                return False

        wait_for("the bridge's broker connection", bridge_connected, 30, bridge_alive)
        wait_for("the bridge's HTTP port", port_open, 30, bridge_alive)
        if args.vendor:  # it drops events until paho reports the connection
            wait_for("the vendor's MQTT connected line",
                     lambda: "MQTT connected" in open(bridge_log.name).read(), 30, bridge_alive)

        for _name, body, address in fixture_files.fixtures(args.fixtures):
            post(bridge_port, body, address or "127.0.0.1")
        post(bridge_port, sentinel_post())
        wait_for("the bridge's sentinel", lambda: any(
            t.endswith("/metadata") and b"Capture Sentinel" in p for _, t, p in rec.snapshot()),
            60, bridge_alive)

        # Our own sentinel entity: once HA reports its state, it has handled
        # every message before it.
        pub("homeassistant/sensor/compat_sentinel/config", json.dumps({
            "name": "Compat sentinel", "unique_id": "compat_sentinel",
            "state_topic": SENTINEL_TOPIC}), retain=True)
        # Retained: the entity subscribes a moment after its discovery.
        pub(SENTINEL_TOPIC, "done", retain=True)
        wait_for("Home Assistant to set up the sentinel entity", lambda: any(
            t.startswith(f"{STATESTREAM}/sensor/") and t.endswith("/state") and p == b"done"
            for _, t, p in rec.snapshot()), 120, ha_alive)

        # Every discovered entity has a state in statestream.
        def counts():
            snap = rec.snapshot()
            configs = {t for _, t, p in snap if t.startswith("homeassistant/") and t.endswith("/config") and p}
            states = {t for _, t, _ in snap if t.startswith(f"{STATESTREAM}/") and t.endswith("/state")}
            return len(configs), len(states)

        wait_for("a state for every discovered entity", lambda: counts()[1] >= counts()[0], 120, ha_alive)

        def both_alive():
            bridge_alive()
            ha_alive()

        additions = check_additions(rec, bridge_port, both_alive) if args.ours else None

        # -- stop: HA writes its registries on the way out
        bridge.send_signal(signal.SIGTERM)
        hass.send_signal(signal.SIGTERM)
        try:
            hass.wait(120)
        except subprocess.TimeoutExpired:
            sys.exit("home-assistant: Home Assistant did not stop within 120 s")

        registry = json.load(open(os.path.join(ha_dir, ".storage", "core.entity_registry")))
        snap = rec.snapshot()
        states = {}
        for _, topic, payload in snap:
            parts = topic.split("/")
            if parts[0] == STATESTREAM and len(parts) == 4 and parts[3] == "state":
                states[f"{parts[1]}.{parts[2]}"] = payload.decode("utf-8", "replace")
        # The last state and attributes, as Home Assistant saved them on the
        # way out (statestream gives the states of entities that save none).
        restored = {}
        restore_path = os.path.join(ha_dir, ".storage", "core.restore_state")
        if os.path.exists(restore_path):
            for item in json.load(open(restore_path))["data"]:
                restored[item["state"]["entity_id"]] = item["state"]
        entities = []
        for e in registry["data"]["entities"]:
            if e["platform"] != "mqtt" or e["unique_id"] == "compat_sentinel":
                continue
            saved = restored.get(e["entity_id"], {})
            entities.append({
                "entity_id": e["entity_id"],
                "unique_id": e["unique_id"],
                "device_id": e.get("device_id"),
                "name": e.get("original_name"),
                "device_class": e.get("original_device_class"),
                "icon": e.get("original_icon"),
                "state": saved.get("state", states.get(e["entity_id"])),
                # Home Assistant's per-run secrets and URLs left out.
                "attributes": {k: v for k, v in saved.get("attributes", {}).items()
                               if k not in ("access_token", "entity_picture")},
            })
        devices = json.load(open(os.path.join(ha_dir, ".storage", "core.device_registry")))
        # Warnings and errors of the MQTT integration, or errors naming MQTT;
        # not those of mqtt_statestream, our instrument (it complains about
        # its own tasks at shutdown).
        problems = []
        for line in open(ha_log).read().splitlines():
            if "mqtt_statestream" in line or not (" WARNING " in line or " ERROR " in line):
                continue
            if "[homeassistant.components.mqtt" in line or (" ERROR " in line and "mqtt" in line.lower()):
                problems.append(line)
        result = {
            "entities": sorted(entities, key=lambda e: e["unique_id"]),
            "devices": sorted(
                ({"name": d["name"], "identifiers": d["identifiers"], "manufacturer": d["manufacturer"],
                  "model": d["model"], "configuration_url": d.get("configuration_url")}
                 for d in devices["data"]["devices"] if any(i[0] == "mqtt" for i in d["identifiers"])),
                key=lambda d: d["name"] or ""),
            "mqtt_log_problems": problems,
            "additions": additions,
            "ha_version": open(os.path.join(ha_dir, ".HA_VERSION")).read().strip(),
            "run_date": time.strftime("%Y-%m-%d", time.gmtime()),
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print(f"home-assistant: {len(entities)} entities, {len(result['devices'])} devices, "
              f"{len(problems)} MQTT log problems -> {args.out}", file=sys.stderr)
    finally:
        if args.keep:  # also after a failure, to see why
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(30)
                except subprocess.TimeoutExpired:
                    child.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

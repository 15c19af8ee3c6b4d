#!/usr/bin/env python3
"""Record what the vendor's Python bridge publishes for our fixtures.

Run by `capture.sh` inside a venv that has the vendor's dependencies. It
starts a private mosquitto on a free loopback port, a subscriber
(`mosquitto_sub`, MQTT 5 with retain-as-published so the retain flag the
bridge set is visible on live messages) and a webhook receiver, then the
vendor's bridge from a scratch copy (it only reads `config.yaml` next to its
own script), through `run_vendor.py`, which keeps it on 127.0.0.1. Every
fixture (`fixtures.py`: `tests/fixtures/*.xml`, then its subfolders) is posted
twice (the second round shows what is published only once), from one loopback
"camera" address, or from the loopback address the fixture names in a
`<!-- camera address: ... -->` comment (recorded as the post's `camera_ip`).

The result is data, not code: per post, the MQTT messages (topic, QoS, retain,
JSON or bytes) and the webhook requests, in the order they arrived. Values
that depend on the moment or place of the run are replaced by a pattern and
named in `rules`:

- `wallclock`: a timestamp the bridge took from its own clock (the post's
  time was unusable); only its format is kept.
- `image_path`: a saved image's path; `<bridge_dir>` stands for the folder of
  the bridge, the wall-clock stamp for its `YYYYmmdd_HHMMSS` part.
"""

import argparse
import datetime
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fixtures as fixture_files

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")
IMAGE_NAME_RE = re.compile(r"^(\d{8}_\d{6})_(.+)_(overview|target)\.jpg$")
POST_DEADLINE = 30.0  # for a post's sentinel to come through
SENTINEL_NAME = "Capture Sentinel"


def sentinel(seq):
    """A minimal video-metadata post of our own, sent after each fixture.

    The vendor's bridge publishes through one MQTT connection, in order, so
    once the sentinel's state message (on its own topic, not retained, no
    discovery) has arrived, everything the fixture caused has arrived too:
    no guessing from silence. `currentTime` carries the sequence number."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<config version="1.7" xmlns="http://www.ipc.com/ver10">'
        '<smartType type="openAlramObj">VSD</smartType>'
        f'<currentTime type="tint64">{seq}</currentTime>'
        f'<deviceName type="string"><![CDATA[{SENTINEL_NAME}]]></deviceName>'
        "</config>\n"
    ).encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, deadline=20.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    sys.exit(f"capture: timed out waiting for {what}")


class Lines:
    """Collects a child's output lines with their arrival time."""

    def __init__(self, stream, keep=None):
        self.items = []
        self.lock = threading.Lock()
        self.keep = keep
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.keep is not None:
                self.keep.write(line + "\n")
                self.keep.flush()
            with self.lock:
                self.items.append((time.monotonic(), line))

    def snapshot(self):
        with self.lock:
            return list(self.items)


class Webhooks:
    """A loopback HTTP receiver that records every webhook request."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.requests.append(
                        (time.monotonic(), self.path, self.headers.get("Content-Type"), body)
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return list(self.requests)


def read_response(sock):
    """Read one HTTP response with a Content-Length body; return its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("bridge closed the connection")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("bridge closed the connection mid-body")
        rest += chunk
    return int(lines[0].split()[1])


def post(port, camera_ip, body):
    """POST a body like a camera does, then an empty keepalive on the same
    connection: the vendor's server handles one connection's requests in
    order, so the second answer means the first post's handler has returned."""
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(camera_ip, 0)) as s:
        for payload in (body, b""):
            head = (
                "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/xml\r\n"
                "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % (port, len(payload))
            )
            s.sendall(head.encode("ascii") + payload)
            status = read_response(s)
            if status != 200:
                sys.exit(f"capture: the bridge answered {status}")


def local_time(ts):
    """Seconds since the epoch of a bridge timestamp, read in the run's TZ."""
    stamp = datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S.%f" if "." in ts else "%Y-%m-%d %H:%M:%S")
    return time.mktime(stamp.timetuple()) + stamp.microsecond / 1e6


def normalise_payload(obj, sent_at, bridge_dir):
    """Replace run-dependent values by patterns; return the rules applied."""
    rules = {}
    ts = obj.get("timestamp")
    if isinstance(ts, str) and TS_RE.match(ts) and abs(local_time(ts) - sent_at) < 10:
        obj["timestamp"] = "YYYY-MM-DD HH:MM:SS.ffffff" if "." in ts else "YYYY-MM-DD HH:MM:SS"
        rules["timestamp"] = "wallclock"
    for key in ("overview_image", "target_image"):
        path = obj.get(key)
        if not isinstance(path, str):
            continue
        folder, name = os.path.split(path)
        m = IMAGE_NAME_RE.match(name)
        if folder != os.path.join(bridge_dir, "images") or not m:
            sys.exit(f"capture: unexpected image path {path!r}")
        obj[key] = f"<bridge_dir>/images/YYYYmmdd_HHMMSS_{m.group(2)}_{m.group(3)}.jpg"
        rules[key] = "image_path"
    return rules


def decode_message(line, sent_at, bridge_dir):
    retain, qos, topic, payload_hex = line.split(" ", 3) if line.count(" ") >= 3 else (*line.split(" ", 2), "")
    payload = bytes.fromhex(payload_hex)
    msg = {"topic": topic, "qos": int(qos), "retain": retain == "1"}
    try:
        obj = json.loads(payload.decode("utf-8"))
        if not isinstance(obj, dict):
            raise ValueError
    except ValueError:
        msg["bytes_hex"] = payload_hex
        msg["jpeg"] = payload.startswith(b"\xff\xd8") and payload.endswith(b"\xff\xd9")
        return msg
    rules = normalise_payload(obj, sent_at, bridge_dir)
    msg["json"] = obj
    if rules:
        msg["rules"] = rules
    return msg


def decode_webhook(path, content_type, body, sent_at, bridge_dir):
    obj = json.loads(body.decode("utf-8"))
    req = {"path": path, "content_type": content_type, "json": obj}
    rules = normalise_payload(obj, sent_at, bridge_dir)
    if rules:
        req["rules"] = rules
    return req


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--script", required=True, help="the vendor's viewtron_bridge.py")
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--camera-ip", default="127.0.0.1")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--source", default="", help="where the vendor's bridge came from (recorded)")
    args = ap.parse_args()

    tz = os.environ.get("TZ")
    if not tz:
        sys.exit("capture: set TZ (capture.sh does)")
    time.tzset()
    fixtures = fixture_files.fixtures(args.fixtures)
    work = tempfile.mkdtemp(prefix="viewtron-capture.")
    children = []

    def stop_all():
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()

    try:
        # -- broker and subscriber
        mqtt_port = free_port()
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "mosquitto.log"), "w"))
        children.append(broker)
        sub_cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-V", "5", "-q", "2",
                   "--retain-as-published", "-t", "#", "-F", "%r %q %t %x"]

        def start_sub():
            sub = subprocess.Popen(sub_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            children.append(sub)
            return sub

        wait_for("mosquitto", lambda: subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-t", "capture/ping", "-n"],
            stderr=subprocess.DEVNULL).returncode == 0)
        sub = start_sub()
        messages = Lines(sub.stdout)

        def probe():
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-t", "capture/probe", "-n"])
            time.sleep(0.1)
            return any(line.split(" ")[2] == "capture/probe" for _, line in messages.snapshot())

        wait_for("the subscriber", probe)

        # -- webhook receiver and the vendor's bridge
        hooks = Webhooks()
        bridge_dir = os.path.join(work, "vendor")
        os.makedirs(bridge_dir)
        shutil.copy(args.script, os.path.join(bridge_dir, "viewtron_bridge.py"))
        bridge_port = free_port()
        config_text = (
            f"bridge_port: {bridge_port}\n"
            "mqtt:\n  enabled: true\n  broker: 127.0.0.1\n"
            f"  port: {mqtt_port}\n"
            "home_assistant:\n"
            f"  url: http://127.0.0.1:{hooks.port}/\n"
            "  webhooks:\n    lpr: wh-lpr\n    all: wh-all\n"
        )
        with open(os.path.join(bridge_dir, "config.yaml"), "w") as f:
            f.write(config_text)
        env = dict(os.environ, PYTHONUNBUFFERED="1", TZ=tz)
        log = open(os.path.join(work, "bridge.log"), "w")
        wrapper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_vendor.py")
        bridge = subprocess.Popen([sys.executable, wrapper, os.path.join(bridge_dir, "viewtron_bridge.py")],
                                  cwd=bridge_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        children.append(bridge)
        out = Lines(bridge.stdout, keep=log)
        wait_for("the bridge's MQTT connection",
                 lambda: any("MQTT connected" in l for _, l in out.snapshot()) or bridge.poll() is not None)
        if bridge.poll() is not None:
            sys.exit("capture: the vendor's bridge exited:\n" + "\n".join(l for _, l in out.snapshot()))
        wait_for("the bridge's HTTP port", lambda: subprocess.run(
            [sys.executable, "-c", f"import socket; socket.create_connection(('127.0.0.1', {bridge_port}), 1).close()"],
            stderr=subprocess.DEVNULL).returncode == 0)

        # -- the posts
        posts = []
        seq = 0
        sentinel_topic = f"viewtron/capture_sentinel_{args.camera_ip.replace('.', '_')}/metadata"
        seen_msgs = len(messages.snapshot())
        seen_hooks = 0
        for rnd in range(1, args.rounds + 1):
            for name, body, address in fixtures:
                sent_at = time.time()
                post(bridge_port, address or args.camera_ip, body)
                seq += 1
                post(bridge_port, args.camera_ip, sentinel(seq))
                stamp = datetime.datetime.fromtimestamp(seq).strftime("%Y-%m-%d %H:%M:%S")

                def is_mine(line):
                    fields = line.split(" ", 3)
                    if fields[2] != sentinel_topic or len(fields) < 4:
                        return False
                    return json.loads(bytes.fromhex(fields[3]))["timestamp"] == stamp

                end = time.monotonic() + POST_DEADLINE
                while not any(is_mine(l) for _, l in messages.snapshot()[seen_msgs:]):
                    if time.monotonic() > end:
                        sys.exit(f"capture: the sentinel after {name} never came through")
                    time.sleep(0.02)
                snap = [l for _, l in messages.snapshot()]
                upto = next(i for i in range(seen_msgs, len(snap)) if is_mine(snap[i])) + 1
                window = [l for l in snap[seen_msgs:upto] if l.split(" ", 3)[2] != sentinel_topic]
                hook_snap = hooks.snapshot()
                own_hooks = [h for h in hook_snap[seen_hooks:]
                             if json.loads(h[3]).get("camera_name") != SENTINEL_NAME]
                entry = {"fixture": name, "round": rnd}
                if address and address != args.camera_ip:
                    entry["camera_ip"] = address
                entry.update({
                    "mqtt": [decode_message(l, sent_at, bridge_dir) for l in window],
                    "webhooks": [decode_webhook(p, ct, b, sent_at, bridge_dir) for _, p, ct, b in own_hooks],
                })
                seen_msgs, seen_hooks = upto, len(hook_snap)
                posts.append(entry)
                print(f"capture: round {rnd} {name}: {len(entry['mqtt'])} messages, {len(entry['webhooks'])} webhooks",
                      file=sys.stderr)

        # -- what stays retained: a fresh subscriber gets exactly the retained set
        retained = subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-t", "#", "--retained-only",
             "-W", "2", "-F", "%t"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
        retained_topics = sorted(t for t in retained.splitlines() if t and not t.startswith("capture/"))

        versions = subprocess.run([sys.executable, "-m", "pip", "list", "--format", "json"],
                                  stdout=subprocess.PIPE).stdout
        wanted = {"viewtron", "paho-mqtt", "PyYAML", "requests", "xmltodict"}
        golden = {
            "what": "MQTT messages and webhook requests the vendor's Python bridge produced for "
                    "this repository's fixtures (bridge/compat/capture.sh regenerates this file)",
            "vendor": {
                "source": args.source,
                "python": sys.version.split()[0],
                "packages": {p["name"]: p["version"] for p in json.loads(versions) if p["name"] in wanted},
            },
            "tz": tz,
            "camera_ip": args.camera_ip,
            "config": config_text.replace(str(bridge_port), "<bridge_port>")
                                 .replace(str(mqtt_port), "<mqtt_port>")
                                 .replace(str(hooks.port), "<webhook_port>"),
            "subscriber": "mosquitto_sub -V 5 -q 2 --retain-as-published -t '#'",
            "rounds": args.rounds,
            "posts": posts,
            "retained_at_end": retained_topics,
        }
        with open(args.out, "w") as f:
            json.dump(golden, f, indent=1, ensure_ascii=False)
            f.write("\n")
        total = sum(len(p["mqtt"]) for p in posts)
        print(f"capture: {len(posts)} posts, {total} messages, {len(retained_topics)} retained topics "
              f"-> {args.out}", file=sys.stderr)
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

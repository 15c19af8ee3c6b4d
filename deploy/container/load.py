#!/usr/bin/env python3
"""Posts a camera fixture over N concurrent keep-alive connections for a
while, sampling a process's VmRSS (/proc/PID/status) meanwhile; used by
deploy/container/test.sh to measure the bridge's memory under load.

    load.py PORT FIXTURE PID [--connections 8] [--seconds 3]

Prints one line of JSON: posts answered, failures, connections reused,
the largest VmRSS seen (KiB) and VmHWM at the end. Exit 1 when any post
was not answered 200 with the camera's success XML, or a connection was
not kept alive.
"""

import argparse
import http.client
import json
import sys
import threading
import time


def vm(pid, key):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("fixture")
    ap.add_argument("pid", type=int)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    with open(args.fixture, "rb") as f:
        body = f.read()

    lock = threading.Lock()
    totals = {"posts": 0, "failures": 0, "reconnects": 0}
    errors = []
    start = threading.Barrier(args.connections + 1)
    deadline = [0.0]

    def camera(n):
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        posts = failures = reconnects = 0
        start.wait()
        try:
            while time.monotonic() < deadline[0]:
                if conn.sock is None and posts:
                    reconnects += 1
                conn.request("POST", "/", body=body,
                             headers={"Content-Type": "application/xml"})
                answer = conn.getresponse()
                data = answer.read()
                if answer.status == 200 and b"success" in data:
                    posts += 1
                else:
                    failures += 1
                    with lock:
                        errors.append(f"connection {n}: {answer.status} {data[:100]!r}")
        except OSError as e:
            failures += 1
            with lock:
                errors.append(f"connection {n}: {e}")
        finally:
            conn.close()
        with lock:
            totals["posts"] += posts
            totals["failures"] += failures
            totals["reconnects"] += reconnects

    threads = [threading.Thread(target=camera, args=(n,)) for n in range(args.connections)]
    for t in threads:
        t.start()
    rss_before = vm(args.pid, "VmRSS")
    deadline[0] = time.monotonic() + args.seconds
    start.wait()
    rss_max = rss_before
    while any(t.is_alive() for t in threads):
        rss_max = max(rss_max, vm(args.pid, "VmRSS"))
        time.sleep(0.01)
    for t in threads:
        t.join()
    result = dict(totals, connections=args.connections, seconds=args.seconds,
                  rss_before_kib=rss_before, rss_max_kib=rss_max,
                  hwm_kib=vm(args.pid, "VmHWM"), errors=errors[:5])
    print(json.dumps(result))
    ok = totals["failures"] == 0 and totals["reconnects"] == 0 and totals["posts"] > 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

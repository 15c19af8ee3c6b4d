#!/usr/bin/env python3
"""Cameras posting in step: the burst a car passing many cameras makes.

    burst.py PORT POST_FILE [--cameras N] [--addresses N] [--seconds N]
             [--first-address 127.0.1.1] [--json]

N cameras (default 1,000) on keep-alive connections from a number of
loopback source addresses (default 250, so 4 cameras each: 127.0.1.1,
127.0.1.2, ...), all posting POST_FILE at the same instant once a second for
the given number of seconds (default 10). One thread, non-blocking sockets:
every camera's post of a round is written before any answer is read, so the
posts really arrive together. Prints one line:

    burst: cameras=1000 addresses=250 rounds=10 posts=10000 ok=10000 refused=0 ...

with the statuses other than 200 counted by code, and the answer times
(from the start of the round) at p50, p99 and max. Exit status 0 when every
post was answered 200 with the success XML, 1 otherwise. Standard library
only; every wait is bounded (a round that is not fully answered within 30 s
counts its missing answers as lost).
"""

import argparse
import ipaddress
import json
import resource
import selectors
import socket
import sys
import time

SUCCESS = b"<status>success</status>"
ROUND_LIMIT = 30.0  # seconds a round may take before missing answers count as lost


class Camera:
    """One keep-alive connection; parses one answer at a time."""

    def __init__(self, port, source):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = b""
        self.buf = b""
        self.waiting = False
        self.dead = False

    def answer(self):
        """(status, body) of a complete answer in the buffer, else None."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(self.buf) < end + 4 + length:
            return None
        body = self.buf[end + 4:end + 4 + length]
        self.buf = self.buf[end + 4 + length:]
        return int(head[0].split(" ")[1]), body


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[i]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("post")
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--addresses", type=int, default=250)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--first-address", default="127.0.1.1")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.cameras + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    with open(args.post, "rb") as f:
        body = f.read()
    request = (b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    first = ipaddress.IPv4Address(args.first_address)
    sources = [str(first + i) for i in range(args.addresses)]
    cameras = [Camera(args.port, sources[i % len(sources)]) for i in range(args.cameras)]
    selector = selectors.DefaultSelector()
    for camera in cameras:
        selector.register(camera.sock, selectors.EVENT_READ, camera)

    statuses = {}
    times = []
    lost = 0
    start = time.monotonic()
    for round_no in range(args.seconds):
        tick = start + round_no
        time.sleep(max(0.0, tick - time.monotonic()))
        t0 = time.monotonic()
        pending = 0
        for camera in cameras:
            if camera.dead:
                lost += 1
                continue
            camera.out = request
            camera.waiting = True
            pending += 1
        # Write every camera's post (non-blocking, resuming partial writes),
        # reading answers as they come so that no buffer fills up.
        writers = [c for c in cameras if c.waiting]
        while writers or pending:
            if time.monotonic() - t0 > ROUND_LIMIT:
                break
            still = []
            for camera in writers:
                try:
                    sent = camera.sock.send(camera.out)
                    camera.out = camera.out[sent:]
                except BlockingIOError:
                    pass
                except OSError:
                    camera.dead = True
                if camera.out and not camera.dead:
                    still.append(camera)
            writers = still
            for key, _ in selector.select(timeout=0.005 if writers else 0.5):
                camera = key.data
                try:
                    data = camera.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    if camera.waiting:
                        camera.waiting = False
                        pending -= 1
                        lost += 1
                    camera.dead = True
                    selector.unregister(camera.sock)
                    continue
                camera.buf += data
                got = camera.answer()
                if got and camera.waiting:
                    status, answer = got
                    camera.waiting = False
                    pending -= 1
                    key = status if status != 200 or SUCCESS in answer else "200-without-success"
                    statuses[key] = statuses.get(key, 0) + 1
                    times.append(time.monotonic() - t0)
        for camera in cameras:
            if camera.waiting:
                camera.waiting = False
                lost += 1
    for camera in cameras:
        camera.sock.close()

    posts = args.cameras * args.seconds
    ok = statuses.get(200, 0)
    times.sort()
    result = {
        "cameras": args.cameras, "addresses": len(sources), "rounds": args.seconds,
        "posts": posts, "ok": ok, "not_ok": posts - ok, "lost": lost,
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "p50_ms": round(percentile(times, 50) * 1000, 1),
        "p99_ms": round(percentile(times, 99) * 1000, 1),
        "max_ms": round((times[-1] if times else float("nan")) * 1000, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        others = " ".join(f"{k}:{v}" for k, v in result["statuses"].items() if k != "200")
        print(f"burst: cameras={args.cameras} addresses={len(sources)} rounds={args.seconds} "
              f"posts={posts} ok={ok} lost={lost} other=[{others}] "
              f"p50={result['p50_ms']}ms p99={result['p99_ms']}ms max={result['max_ms']}ms")
    return 0 if ok == posts else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The Python side of deploy/nginx/test.sh (standard library only).

Modes:
  recorder PORT_FILE LOG_FILE LIFETIME   a stand-in upstream for instance B
  checks KEY=VALUE...                    every check against instances A and B
  free-port                              prints a free port on 127.0.0.1

Every socket operation has a timeout; every check prints PASS or FAIL. The
checks speak HTTP through wire.py (shared with hostile.py); the recorder
lives in recorder.py.
"""
import json
import os
import socket
import sys
import threading
import time

from recorder import record_count, recorded, recorder
from wire import BIG, NGINX_PAGE, SUCCESS, TIMEOUT, Closed, Conn, request, send_in_background


class Checks:
    def __init__(self, args):
        self.a = int(args["a_port"])
        self.b = int(args["b_port"])
        self.perip = int(args["perip"])
        self.b_rate = int(args["b_rate"])
        self.b_burst = int(args["b_burst"])
        self.b_timeout = float(args["b_timeout"])
        self.log = args["recorder_log"]
        self.listen = int(args["listen_port"])
        self.listen_out = args["listen_out"]
        with open(args["camera_post"], "rb") as f:
            self.camera = f.read()
        with open(args["nvr_post"], "rb") as f:
            self.nvr = f.read()
        self.ok_posts = 0  # posts through A answered 200: the sink's events
        self.failures = 0

    def result(self, ok, name, detail):
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        if not ok:
            self.failures += 1

    def run(self, name, check):
        start = time.monotonic()
        try:
            ok, detail = check()
        except Exception as e:  # a check that blew up is a failed check
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.result(ok, name, f"{detail} [{time.monotonic() - start:.1f}s]")

    def ok_answer(self, status, body):
        return status == 200 and SUCCESS in body

    # (1)
    def camera_keepalive(self):
        conn = Conn(self.a)
        try:
            for i in range(5):
                conn.send(request(self.camera))
                status, headers, body = conn.response()
                if not self.ok_answer(status, body):
                    return False, f"post {i + 1} answered {status}: {body[:200]!r}"
                self.ok_posts += 1
                if headers.get("connection", "").lower() == "close":
                    return False, f"nginx closed the camera's connection after post {i + 1}"
            if conn.closed_within(0.2) is not None:
                return False, "nginx closed the camera's connection after its posts"
        finally:
            conn.close()
        return True, "5 posts on one keep-alive connection, each 200 with the success XML, connection still open"

    # (2)
    def nvr_posts(self, port, n, test_id=None):
        """n NVR-style posts, each on a new connection: absolute-form target,
        SOAP content type, Connection: close. None when all were answered 200
        with the success XML and closed, else what went wrong."""
        for i in range(n):
            conn = Conn(port)
            try:
                extra = [f"X-Test-Id: {test_id}-{i}"] if test_id else []
                conn.send(request(self.nvr, target=f"http://127.0.0.1:{port}/API",
                                  host=f"127.0.0.1:{port}", close=True, extra=extra,
                                  content_type="application/soap+xml; charset=utf-8"))
                status, _, body = conn.response()
                if not self.ok_answer(status, body):
                    return f"post {i + 1} answered {status}: {body[:200]!r}"
                if port == self.a:
                    self.ok_posts += 1
                if conn.closed_within(TIMEOUT) is None:
                    return f"nginx kept the connection of `Connection: close` post {i + 1} open"
            finally:
                conn.close()
        return None

    def nvr_absolute(self):
        problem = self.nvr_posts(self.a, 10)
        if problem:
            return False, problem
        return True, ("10 posts `POST http://127.0.0.1:PORT/API`, `Connection: close`, one "
                      "connection each: all 200 with the success XML, each connection closed "
                      "after its answer")

    # (3)
    def big_body(self, chunked):
        conn = Conn(self.a)
        try:
            if chunked:
                piece = b"x" * 65536
                data = request(b"", chunks=[piece] * (BIG // len(piece)))
            else:
                data = request(b"x" * BIG)
            sender = send_in_background(conn, data)
            status, _, body = conn.response()
            sender.join(TIMEOUT)
        finally:
            conn.close()
        kind = "chunked" if chunked else "Content-Length"
        who = "nginx" if NGINX_PAGE in body else "viewtron (not nginx)"
        return status == 413 and NGINX_PAGE in body, f"20 MiB {kind} body answered {status} by {who}"

    # (4)
    def refused_head(self, data, allowed):
        conn = Conn(self.a)
        try:
            sender = send_in_background(conn, data)
            try:
                status, _, body = conn.response()
            except Closed:
                status, body = "connection closed without an answer", b""
            sender.join(TIMEOUT)
        finally:
            conn.close()
        if status in allowed and NGINX_PAGE not in body:
            return False, f"{status} from viewtron, not nginx"
        return status in allowed, status

    def big_headers(self):
        results = []
        ok = True
        for name, data, allowed in [
            ("a 64 KiB header line", request(self.camera, extra=["X-Big: " + "a" * 65536]),
             (400, 431, 494)),
            ("48 header lines of 1 KiB (48 KiB)",
             request(self.camera, extra=[f"X-Pad-{i}: " + "b" * 1000 for i in range(48)]),
             (400, 431, 494)),
            ("a 16 KiB request line", request(self.camera, target="/API?" + "c" * 16384),
             (400, 414, 431, 494)),
        ]:
            good, status = self.refused_head(data, allowed)
            ok &= good
            results.append(f"{name}: {status}")
        return ok, "; ".join(results)

    # (5)
    def hold(self, port, test_id=None):
        """A connection whose request is in flight at nginx: its head is sent
        with Expect: 100-continue, and nginx's 100 Continue (sent when it
        starts reading the body, after the connection limits) is read."""
        conn = Conn(port)
        extra = ["Expect: 100-continue"] + ([f"X-Test-Id: {test_id}"] if test_id else [])
        conn.send(request(self.camera, length=len(self.camera), extra=extra))
        status = conn.response()[0]
        if status != 100:
            conn.close()
            raise AssertionError(f"a request under the limit got {status}, not 100 Continue")
        return conn

    def finish(self, conn):
        conn.send(self.camera)
        status, _, body = conn.response()
        return self.ok_answer(status, body), status

    def perip_flood(self):
        # More idle keep-alive camera connections than the cap: nginx counts
        # requests in flight, not idle connections, so they are all served.
        idle = []
        for i in range(self.perip + 2):
            idle.append(Conn(self.a))
            idle[-1].send(request(self.camera))
            status, _, body = idle[-1].response()
            if not self.ok_answer(status, body):
                for conn in idle:
                    conn.close()
                return False, f"idle camera connection {i + 1} answered {status}"
            self.ok_posts += 1
        camera = self.hold(self.a)  # the camera's post is in flight first
        flood = []
        try:
            for _ in range(self.perip - 1):
                flood.append(self.hold(self.a))
            extra = Conn(self.a)
            try:
                extra.send(request(self.camera))
                refused, _, page = extra.response()
            finally:
                extra.close()
            if refused not in (429, 503) or NGINX_PAGE not in page:
                return False, f"request {self.perip + 1} from one address answered {refused}"
            good, status = self.finish(camera)
            if not good:
                return False, f"the camera's own post answered {status} during the flood"
            self.ok_posts += 1
            for conn in flood:
                good, status = self.finish(conn)
                if not good:
                    return False, f"a held post answered {status} when completed"
                self.ok_posts += 1
            for conn in [camera] + idle:
                conn.send(request(self.camera))
                status, _, body = conn.response()
                if not self.ok_answer(status, body):
                    return False, f"an open camera connection's next post answered {status}"
                self.ok_posts += 1
        finally:
            for conn in [camera] + flood + idle:
                conn.close()
        return True, (f"{len(idle)} idle keep-alive camera connections open (not counted); "
                      f"{self.perip} requests in flight from 127.0.0.1 (a camera's among them): "
                      f"request {self.perip + 1} got {refused} from nginx; the camera's post then "
                      f"completed 200, and all {len(idle) + 1} open camera connections posted "
                      "again: 200")

    # (6)
    def garbage(self):
        payloads = [
            ("binary garbage", b"\x00\xff\xfe garbage \x01\x02\r\n\r\n" + os.urandom(512)),
            ("a TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + os.urandom(32)
             + b"\x00\x00\x02\x13\x01\x01\x00"),
            ("an HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
             + bytes.fromhex("000000040000000000")),
            ("a request line ending in HTTP/2.0",
             b"POST /API HTTP/2.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"),
            ("a request line of spaces", b"     \r\n\r\n"),
        ]
        seen = []
        for name, data in payloads:
            conn = Conn(self.a)
            try:
                conn.send(data)
                try:
                    first = conn.until(b"\r\n").decode("latin-1")
                except Closed:
                    first = "closed without an answer"
                if " 2" in first[:13]:
                    return False, f"{name} was answered {first!r}"
                if conn.closed_within(TIMEOUT) is None:
                    return False, f"nginx kept the connection open after {name}"
                seen.append(f"{name}: {first.replace('HTTP/1.1 ', '')}")
            finally:
                conn.close()
        conn = Conn(self.a)
        try:
            conn.send(request(self.camera))
            status, _, body = conn.response()
        finally:
            conn.close()
        if not self.ok_answer(status, body):
            return False, f"the normal post after the garbage answered {status}"
        self.ok_posts += 1
        return True, "; ".join(seen) + " (each then closed); a normal post after them: 200"

    # (B1)
    def client_ip(self):
        conn = Conn(self.b)
        try:
            conn.send(request(self.camera, extra=[
                "X-Test-Id: xff", "X-Forwarded-For: 203.0.113.7", "X-Real-IP: 203.0.113.7"]))
            status, _, body = conn.response()
        finally:
            conn.close()
        record = recorded(self.log, "xff")
        if not self.ok_answer(status, body) or record is None:
            return False, f"post answered {status}, recorded: {record is not None}"
        h = record["headers"]
        got = f"X-Forwarded-For: {h.get('x-forwarded-for')}, X-Real-IP: {h.get('x-real-ip')}"
        return (h.get("x-forwarded-for") == "127.0.0.1" and h.get("x-real-ip") == "127.0.0.1",
                f"a client claiming 203.0.113.7 reached the upstream as {got}")

    # (B2)
    def reframed(self):
        conn = Conn(self.b)
        body = self.camera
        thirds = [body[: len(body) // 3], body[len(body) // 3: 2 * len(body) // 3],
                  body[2 * len(body) // 3:]]
        try:
            conn.send(request(b"", chunks=thirds, target=f"http://127.0.0.1:{self.b}/API",
                              host=f"127.0.0.1:{self.b}",
                              extra=["X-Test-Id: chunked"]))
            status, _, answer = conn.response()
        finally:
            conn.close()
        record = recorded(self.log, "chunked")
        if not self.ok_answer(status, answer) or record is None:
            return False, f"post answered {status}, recorded: {record is not None}"
        h = record["headers"]
        problems = []
        if record["line"] != "POST /API HTTP/1.1":
            problems.append(f"request line {record['line']!r}")
        if h.get("content-length") != str(len(body)) or record["body_len"] != len(body):
            problems.append(f"Content-Length {h.get('content-length')}, body {record['body_len']}")
        if "transfer-encoding" in h:
            problems.append(f"Transfer-Encoding {h['transfer-encoding']}")
        if h.get("connection", "").lower() == "close":
            problems.append("Connection: close (no upstream keepalive)")
        if problems:
            return False, "upstream got " + ", ".join(problems)
        return True, (f"an absolute-form chunked post reached the upstream as {record['line']!r} "
                      f"with Content-Length: {len(body)}, no Transfer-Encoding, keep-alive")

    # (B3)
    def slow_body(self):
        conn = Conn(self.b)
        body = self.camera
        try:
            conn.send(request(body, length=len(body), extra=["X-Test-Id: slow"])
                      + body[: len(body) // 2])
            time.sleep(1.0)  # the slow client under test: half its body, then a pause
            last_byte = time.time()
            conn.send(body[len(body) // 2:])
            status, _, answer = conn.response()
        finally:
            conn.close()
        record = recorded(self.log, "slow")
        if not self.ok_answer(status, answer) or record is None:
            return False, f"post answered {status}, recorded: {record is not None}"
        lead = record["t_first"] - last_byte
        return (lead >= 0 and record["body_len"] == len(body),
                f"a body sent half, then after 1 s the rest: its first byte reached the upstream "
                f"{lead * 1000:.1f} ms after the client's last byte, whole ({record['body_len']} bytes)")

    # (B4)
    def queued_burst(self):
        """1 + burst + 1 requests at once: one passes, `burst` wait their
        turn at the zone's rate and are answered 200, the last gets 429."""
        n = 1 + self.b_burst + 1
        conns = [Conn(self.b) for _ in range(n)]
        start = time.monotonic()
        results = [None] * n

        def post(i):
            try:
                conns[i].send(request(self.camera, extra=[f"X-Test-Id: burst-{i}"]))
                status, _, body = conns[i].response()
                results[i] = (status, time.monotonic() - start, NGINX_PAGE in body)
            except (Closed, OSError) as e:
                results[i] = (f"{type(e).__name__}", None, False)

        threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        for conn in conns:
            conn.close()
        ok = sorted(t for status, t, _ in results if status == 200)
        refused = [r for r in results if r[0] == 429]
        reached = sum(recorded(self.log, f"burst-{i}") is not None for i in range(n))
        spacing = 1.0 / self.b_rate
        good = (len(ok) == n - 1 and len(refused) == 1 and refused[0][2] and reached == n - 1
                and ok[-1] >= (n - 2) * spacing * 0.8)
        return good, (f"{n} requests at once (rate {self.b_rate}r/s, burst {self.b_burst}): "
                      f"{len(ok)} answered 200, the last of them after {ok[-1] if ok else 0:.2f} s "
                      f"(queued, not refused); {len(refused)} got 429 from nginx; "
                      f"{reached} reached the upstream")

    # (B5)
    def upstream_keepalive(self):
        problem = self.nvr_posts(self.b, 10, test_id="reuse")
        if problem:
            return False, problem
        records = [recorded(self.log, f"reuse-{i}") for i in range(10)]
        if None in records:
            return False, f"only {10 - records.count(None)} of the 10 posts reached the upstream"
        peers = {r["peer"] for r in records}
        return len(peers) == 1, (f"10 client connections (NVR-style, `Connection: close`) were "
                                 f"carried over {len(peers)} upstream connection(s)")

    # (B6)
    def timeouts(self):
        t = self.b_timeout
        before = record_count(self.log)
        results = {}

        def stalled_head():
            conn = Conn(self.b)
            conn.send(b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            results["stalled header"] = (conn.closed_within(t + 8), conn.buf)
            conn.close()

        def stalled_body():
            conn = Conn(self.b)
            conn.send(request(self.camera, length=len(self.camera), extra=["X-Test-Id: stalled"])
                      + self.camera[:10])
            results["stalled body"] = (conn.closed_within(t + 8), conn.buf)
            conn.close()

        def idle_keepalive():
            conn = Conn(self.b)
            conn.send(request(self.camera, extra=["X-Test-Id: idle"]))
            status = conn.response()[0]
            results["idle keep-alive"] = (conn.closed_within(t + 8) if status == 200 else None,
                                          b"")
            conn.close()

        threads = [threading.Thread(target=f, daemon=True)
                   for f in (stalled_head, stalled_body, idle_keepalive)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(t + TIMEOUT + 8)
        ok, parts = True, []
        for name in ("stalled header", "stalled body", "idle keep-alive"):
            elapsed, answer = results.get(name, (None, b""))
            if elapsed is None or elapsed < t - 0.5:
                ok = False
                parts.append(f"{name}: {'still open' if elapsed is None else f'closed after {elapsed:.1f} s'}")
                continue
            said = answer.split(b"\r\n", 1)[0].decode("latin-1").replace("HTTP/1.1 ", "")
            parts.append(f"{name}: closed after {elapsed:.1f} s" + (f" ({said})" if said else ""))
        # Only the idle connection's completed post may have reached the upstream.
        reached = record_count(self.log) - before
        if reached != 1 or recorded(self.log, "stalled") is not None:
            ok = False
            parts.append(f"{reached} request(s) reached the upstream, expected 1 (the idle one's)")
        return ok, f"with {t:g} s timeouts: " + "; ".join(parts)


    # (C) the camera's own address, through the front and around it
    def listen_saw(self, camera_ip, kind, timeout=TIMEOUT):
        """Waits (bounded) for listen --json to print a `kind` line for
        camera_ip; True when it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.listen_out) as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # still being written
                    seen = json.loads(line)
                    if seen.get("kind") == kind and seen.get("camera_ip") == camera_ip:
                        return True
            time.sleep(0.02)
        return False

    def listen_mentions(self, text):
        with open(self.listen_out) as f:
            return text in f.read()

    def post_from(self, port, source, extra=()):
        conn = Conn(port, source=source)
        try:
            conn.send(request(self.camera, extra=list(extra)))
            status, _, body = conn.response()
        finally:
            conn.close()
        return self.ok_answer(status, body), status

    def camera_address(self):
        camera, other = "127.0.0.2", "127.0.0.4"
        good, status = self.post_from(self.a, camera)
        if not good:
            return False, f"the camera's post through nginx answered {status}"
        self.ok_posts += 1
        # Another client through the front, claiming someone else's address.
        good, status = self.post_from(self.a, other, ["X-Forwarded-For: 203.0.113.7"])
        if not good:
            return False, f"the second client's post through nginx answered {status}"
        self.ok_posts += 1
        for ip in (camera, other):
            for kind in ("connect", "event"):
                if not self.listen_saw(ip, kind):
                    return False, f"listen --json printed no {kind} line with camera_ip {ip}"
        if self.listen_mentions("203.0.113.7"):
            return False, "the forged address 203.0.113.7 reached listen's output"
        return True, (f"a camera on {camera} posting through nginx: listen --json printed "
                      f"connect and event lines with camera_ip {camera}; a client on {other} "
                      "sending X-Forwarded-For: 203.0.113.7 through nginx: camera_ip "
                      f"{other} (nginx overwrote the header)")

    def forged_direct(self):
        attacker = "127.0.0.3"
        good, status = self.post_from(self.listen, attacker, ["X-Forwarded-For: 203.0.113.9"])
        if not good:
            return False, f"the direct post answered {status}"
        self.ok_posts += 1
        if not self.listen_saw(attacker, "event"):
            return False, f"listen --json printed no event with camera_ip {attacker}"
        if self.listen_mentions("203.0.113.9"):
            return False, "listen believed the forged X-Forwarded-For of an untrusted client"
        return True, (f"a client on {attacker} posting to listen directly with X-Forwarded-For: "
                      f"203.0.113.9: camera_ip {attacker}, the header ignored (not a trusted "
                      "proxy)")


def checks(args):
    c = Checks(args)
    print(f"-- instance A (viewtron.conf as shipped, per-IP cap {c.perip}) -> listen --json --trusted-proxy 127.0.0.1", flush=True)
    c.run("1 camera keep-alive", c.camera_keepalive)
    c.run("2 NVR absolute-form", c.nvr_absolute)
    c.run("3 body limit (Content-Length)", lambda: c.big_body(chunked=False))
    c.run("3 body limit (chunked)", lambda: c.big_body(chunked=True))
    c.run("4 header limits", c.big_headers)
    c.run("5 per-IP connection cap", c.perip_flood)
    c.run("6 garbage and HTTP/2", c.garbage)
    c.run("C1 camera address through nginx", c.camera_address)
    c.run("C2 forged X-Forwarded-For, not through nginx", c.forged_direct)
    print(f"-- instance B (rate {c.b_rate}r/s, burst {c.b_burst}, timeouts {c.b_timeout:g} s)"
          " -> recorder", flush=True)
    c.run("B1 real client IP", c.client_ip)
    c.run("B2 bodies re-framed", c.reframed)
    c.run("B3 slow body buffered", c.slow_body)
    c.run("B4 bursts queued", c.queued_burst)
    c.run("B5 upstream keepalive", c.upstream_keepalive)
    c.run("B6 timeouts", c.timeouts)
    with open(args["ok_file"], "w") as f:
        f.write(str(c.ok_posts))
    return c.failures


if __name__ == "__main__":
    if sys.argv[1] == "recorder":
        recorder(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif sys.argv[1] == "free-port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif sys.argv[1] == "checks":
        args = dict(a.split("=", 1) for a in sys.argv[2:])
        sys.exit(1 if checks(args) else 0)
    else:
        sys.exit(f"helper.py: unknown mode {sys.argv[1]}")

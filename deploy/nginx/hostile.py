#!/usr/bin/env python3
"""The hostile cases of tests/hostile.rs, tests/smuggling.rs and
tests/starvation.rs, played through the nginx front (instance A of test.sh,
in front of `listen --json`).

    hostile.py a_port=N listen_port=N listen_pid=N listen_out=FILE ok_file=FILE

Each check plays the attacker against nginx and checks what viewtron got
(its events in listen's output, and its own threads, descriptors and peak
memory under /proc/PID) and that a camera on another address is still
answered and delivered. Prints PASS or FAIL per check; exit status 1 on any
FAIL. Writes the number of posts answered 200 to ok_file (for check 7).
Standard library only; every wait is bounded.
"""

import json
import os
import select
import socket
import sys
import threading
import time

from wire import NGINX_PAGE, SUCCESS, TIMEOUT, Closed, Conn, request


def post_body(plate):
    """An IP camera LPR post of our own, with a plate to look for."""
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<config version=\"1.7\" xmlns=\"http://www.ipc.com/ver10\">\n"
            "  <smartType type=\"openAlramObj\">VEHICE</smartType>\n"
            "  <currentTime type=\"tint64\">1764331200000000</currentTime>\n"
            "  <listInfo type=\"list\" count=\"1\"><item>\n"
            f"    <plateNumber type=\"string\"><![CDATA[{plate}]]></plateNumber>\n"
            "  </item></listInfo>\n"
            "</config>").encode()


def post(body, extra=b""):
    return (b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra
            + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


class Viewtron:
    """What the server behind the front spent and delivered."""

    def __init__(self, pid, out):
        self.pid, self.out = pid, out

    def measure(self):
        count = lambda d: len(os.listdir(f"/proc/{self.pid}/{d}"))
        hwm = 0
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return {"threads": count("task"), "fds": count("fd"), "hwm_kb": hwm}

    def settled(self, limit=12.0):
        """Measures once the thread count stops changing (tiny_http's idle
        pool threads end 5 s after their connection)."""
        deadline = time.monotonic() + limit
        last = self.measure()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.measure()
            if now["threads"] <= last["threads"]:
                return now
            last = now
        return last

    def events(self, plate):
        """listen's event lines carrying this plate."""
        n = 0
        with open(self.out) as f:
            for line in f:
                if line.startswith('{"kind":"event"') and f'"number":"{plate}"' in line:
                    n += 1
        return n

    def wait_event(self, plate, ip, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out) as f:
                for line in f:
                    if not line.endswith("\n") or not line.startswith('{"kind":"event"'):
                        continue
                    seen = json.loads(line)
                    if (seen.get("camera_ip") == ip
                            and (seen.get("plate") or {}).get("number") == plate):
                        return True
            time.sleep(0.02)
        return False


class Hostile:
    def __init__(self, args):
        self.a = int(args["a_port"])
        self.listen = int(args["listen_port"])
        self.viewtron = Viewtron(int(args["listen_pid"]), args["listen_out"])
        self.ok_posts = 0
        self.failures = 0
        self.cameras = 0

    def run(self, name, check):
        start = time.monotonic()
        try:
            ok, detail = check()
        except Exception as e:  # a check that blew up is a failed check
            ok, detail = False, f"{type(e).__name__}: {e}"
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail} [{time.monotonic() - start:.1f}s]",
              flush=True)
        if not ok:
            self.failures += 1

    def camera(self):
        """A camera on an address of its own posts through the front: None
        when answered 200 within 1 s and delivered, else what went wrong.
        Its answer time in seconds otherwise goes to self.last_answer."""
        self.cameras += 1
        ip = f"127.0.2.{self.cameras}"
        plate = f"CAM{self.cameras:03d}"
        start = time.monotonic()
        conn = Conn(self.a, source=ip)
        try:
            conn.send(post(post_body(plate)))
            status, _, body = conn.response()
        finally:
            conn.close()
        self.last_answer = time.monotonic() - start
        if status != 200 or SUCCESS not in body:
            return f"the camera on {ip} got {status}"
        self.ok_posts += 1
        if self.last_answer > 1.0:
            return f"the camera on {ip} was answered after {self.last_answer:.2f} s"
        if not self.viewtron.wait_event(plate, ip):
            return f"the camera's event ({ip}) was not delivered"
        return None

    def grew(self, before, after, threads=8, fds=16, hwm_kb=16 * 1024):
        """None when viewtron spent about nothing between the two measures."""
        problems = []
        if after["threads"] - before["threads"] > threads:
            problems.append(f"threads {before['threads']} -> {after['threads']}")
        if after["fds"] - before["fds"] > fds:
            problems.append(f"descriptors {before['fds']} -> {after['fds']}")
        if after["hwm_kb"] - before["hwm_kb"] > hwm_kb:
            problems.append(f"peak RSS {before['hwm_kb']} -> {after['hwm_kb']} KiB")
        return ", ".join(problems) or None

    def spent(self, before, after):
        return (f"viewtron: {after['threads']} threads (was {before['threads']}), "
                f"{after['fds']} descriptors (was {before['fds']}), peak RSS "
                f"{after['hwm_kb'] // 1024} MiB (was {before['hwm_kb'] // 1024})")

    # (H1) request smuggling: issue 8's table, through the front
    def smuggling(self):
        variants = [
            ("Content-Length + Transfer-Encoding",
             lambda h: b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + h),
            ("Content-Length 0 + Content-Length N",
             lambda h: b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(h) + h),
            ("chunk size ffffffffffffffffffff",
             lambda h: b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n" + h),
            ("Transfer-Encoding: chunked, identity",
             lambda h: b"Transfer-Encoding: chunked, identity\r\n\r\n" + h),
            ("Transfer-Encoding: xchunked + Content-Length",
             lambda h: b"Transfer-Encoding: xchunked\r\nContent-Length: %d\r\n\r\n" % len(h) + h),
            ("Content-Length: abc",
             lambda h: b"Content-Length: abc\r\n\r\n" + h),
        ]
        seen = []
        for i, (name, build) in enumerate(variants):
            plate = f"SMUGGLED{i}"
            hidden = post(post_body(plate))
            conn = Conn(self.a)
            answers = []
            try:
                conn.send(b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\n" + build(hidden))
                while True:
                    try:
                        status, _, page = conn.response()
                    except Closed:
                        break
                    answers.append((status, NGINX_PAGE in page))
            finally:
                conn.close()
            if len(answers) != 1 or answers[0][0] < 400 or not answers[0][1]:
                return False, f"{name}: answered {answers}, expected one refusal from nginx"
            seen.append(f"{name}: {answers[0][0]}")
        problem = self.camera()
        if problem:
            return False, problem
        smuggled = sum(self.viewtron.events(f"SMUGGLED{i}") for i in range(len(variants)))
        if smuggled:
            return False, f"{smuggled} hidden post(s) reached viewtron as events"
        return True, ("; ".join(seen) + " (one answer each, from nginx, then closed); no hidden "
                      "post reached viewtron; a camera then posted fine")

    # (H2) slow bodies: tests/starvation.rs's attackers, through the front
    def trickle(self, sources, per_source, seconds=3.0):
        """per_source connections from each source address, each sending a
        POST head declaring 100,000 bytes, then one body byte every 0.5 s;
        a camera posts meanwhile. Returns (problem, refused, before, after)."""
        before = self.viewtron.settled()
        conns, refused = [], 0
        for source in sources:
            for _ in range(per_source):
                s = socket.create_connection(("127.0.0.1", self.a), timeout=TIMEOUT,
                                             source_address=(source, 0))
                s.sendall(b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Length: 100000\r\n\r\n<config")
                conns.append(s)
        problem = None
        deadline = time.monotonic() + seconds
        camera_at = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for s in conns:
                try:
                    s.send(b"a")
                except OSError:
                    pass
            if camera_at and time.monotonic() >= camera_at:
                camera_at = None
                problem = self.camera()
            time.sleep(0.5)
        during = self.viewtron.measure()
        for s in conns:
            # A connection nginx refused has its answer waiting: 429.
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                try:
                    if s.recv(64).startswith(b"HTTP/1.1 429"):
                        refused += 1
                except OSError:
                    pass
            s.close()
        return problem, refused, before, during

    def slow_bodies(self):
        parts = []
        for label, sources, per in [
            ("256 connections from 127.0.3.1", ["127.0.3.1"], 256),
            ("64 connections over 16 addresses (127.0.0.2-17)",
             [f"127.0.0.{i}" for i in range(2, 18)], 4),
        ]:
            problem, refused, before, during = self.trickle(sources, per)
            if problem:
                return False, f"{label}: {problem}"
            grew = self.grew(before, during)
            if grew:
                return False, f"{label}: viewtron spent {grew}"
            parts.append(f"{label} trickling bodies (nginx refused {refused} with 429): "
                         f"a camera on another address answered in "
                         f"{self.last_answer * 1000:.0f} ms and delivered; "
                         + self.spent(before, during))
        return True, "; ".join(parts)

    # (H3) HTTP/2.0 request lines
    def http2_lines(self):
        before = self.viewtron.settled()
        answers = {}
        for _ in range(1000):
            conn = Conn(self.a)
            try:
                conn.send(b"POST /API HTTP/2.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
                try:
                    first = conn.until(b"\r\n").decode("latin-1")
                except Closed:
                    first = "closed"
            finally:
                conn.close()
            answers[first] = answers.get(first, 0) + 1
        problem = self.camera()
        after = self.viewtron.settled()
        grew = self.grew(before, after)
        ok = problem is None and grew is None and list(answers) == [
            "HTTP/1.1 505 HTTP Version Not Supported"]
        return ok, (f"1,000 connections sending `POST /API HTTP/2.0`: {answers}; "
                    f"{problem or 'a camera then posted fine'}; "
                    + (f"viewtron spent {grew}" if grew else self.spent(before, after)))

    # (H4) huge header lines
    def header_lines(self):
        before = self.viewtron.measure()
        results = []

        def one():
            conn = Conn(self.a)
            try:
                def feed():
                    try:
                        conn.sock.sendall(b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                        block = b"a" * (1 << 20)
                        for _ in range(24):
                            conn.sock.sendall(block)
                    except OSError:
                        pass
                writer = threading.Thread(target=feed, daemon=True)
                writer.start()
                try:
                    status, _, page = conn.response()
                    results.append((status, NGINX_PAGE in page))
                except (Closed, OSError):
                    results.append(("closed", False))
                writer.join(TIMEOUT)
            finally:
                conn.close()

        threads = [threading.Thread(target=one, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 2)
        problem = self.camera()
        after = self.viewtron.measure()
        grew = self.grew(before, after, threads=64, fds=64)
        ok = (problem is None and grew is None and len(results) == 8
              and all(status == 400 and ours for status, ours in results))
        return ok, (f"8 parallel 24 MiB header lines: {sorted(set(results))} (status, from "
                    f"nginx); {problem or 'a camera then posted fine'}; "
                    + (f"viewtron spent {grew}" if grew else self.spent(before, after)))

    # (H5) the rest of tests/hostile.rs that a front can hold
    def others(self):
        parts = []
        # Declared sizes the process could not allocate: refused by nginx
        # (413; 400 for a number too large for nginx to read).
        statuses = []
        for declared in (b"99999999999", b"18446744073709551615"):
            conn = Conn(self.a)
            try:
                conn.send(b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
                          + declared + b"\r\n\r\n<config")
                status, _, page = conn.response()
            finally:
                conn.close()
            if status not in (400, 413) or NGINX_PAGE not in page:
                return False, f"Content-Length {declared.decode()}: {status}"
            statuses.append(status)
        parts.append("Content-Length 99999999999: {}, 2^64-1: {}, from nginx".format(*statuses))
        # A client vanishing mid-body: nothing reaches viewtron.
        body = post_body("VANISHED")
        conn = Conn(self.a)
        conn.send(post(body)[: -len(body) // 2])
        conn.close()
        parts.append("a client vanishing mid-body: nothing delivered")
        # 10,000 header fields: refused by nginx.
        conn = Conn(self.a)
        try:
            heads = b"".join(b"X-H%d: v\r\n" % i for i in range(10000))
            conn.sock.settimeout(TIMEOUT)
            try:
                conn.send(b"POST /API HTTP/1.1\r\nHost: 127.0.0.1\r\n" + heads
                          + b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass
            try:
                status, _, page = conn.response()
            except Closed:
                status, page = "closed", b""
        finally:
            conn.close()
        if status not in (400, 431, 494):
            return False, f"10,000 header fields: {status}"
        parts.append(f"10,000 header fields: {status} from nginx")
        # 500 idle connections: held by nginx, not viewtron.
        before = self.viewtron.settled()
        idle = [Conn(self.a) for _ in range(500)]
        problem = self.camera()
        during = self.viewtron.measure()
        for conn in idle:
            conn.close()
        if problem:
            return False, f"500 idle connections: {problem}"
        grew = self.grew(before, during)
        if grew:
            return False, f"500 idle connections: viewtron spent {grew}"
        parts.append("500 idle connections: a camera posted fine; " + self.spent(before, during))
        if self.viewtron.events("VANISHED"):
            return False, "the vanished client's partial post was delivered"
        return True, "; ".join(parts)


def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    h = Hostile(args)
    print("-- tests/hostile.rs, smuggling.rs and starvation.rs through instance A", flush=True)
    h.run("H1 smuggling", h.smuggling)
    h.run("H2 slow bodies", h.slow_bodies)
    h.run("H3 HTTP/2.0 request lines", h.http2_lines)
    h.run("H4 huge header lines", h.header_lines)
    h.run("H5 oversized, vanishing, 10,000 headers, idle", h.others)
    with open(args["ok_file"], "w") as f:
        f.write(str(h.ok_posts))
    return 1 if h.failures else 0


if __name__ == "__main__":
    sys.exit(main())

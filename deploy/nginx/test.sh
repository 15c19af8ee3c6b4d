#!/usr/bin/env bash
# Tests deploy/nginx/viewtron.conf against a real nginx, in front of the
# crate's counting sink (examples/sink.rs), on 127.0.0.1 only.
#
#   bash deploy/nginx/test.sh
#
# What it does:
#   - installs nginx when missing (apt-get, as root or with passwordless sudo);
#     when that is impossible it prints SKIP and exits 0
#   - builds the sink and simulate examples (release)
#   - starts the sink on a free port for SINK_SECONDS, and nginx instance A:
#     viewtron.conf as shipped, only its two ports rewritten, run as the
#     current user with pid, logs and temp files in a temporary directory
#   - starts instance B: the same file with the total cap lowered to 3 and the
#     three 150 s timeouts lowered to 2 s, in front of a recording stand-in
#     upstream (Python), so the total cap, the timeouts and what viewtron
#     receives (X-Forwarded-For, re-framed bodies) can be checked in seconds
#   - runs the checks, each printing PASS or FAIL, then waits for the sink's
#     final `events=N ... requests=N` line and compares it with the number of
#     posts answered 200 through A
#
# Exit status: 0 when every check passed (or on SKIP), 1 on any FAIL or when
# the setup fails.
#
# Environment:
#   SINK_SECONDS         the sink's lifetime (default 30): every check must
#                        finish within it; the script says so when they did not
#   VIEWTRON_NGINX_CONF  the file to test (default deploy/nginx/viewtron.conf),
#                        e.g. your edited copy; the lines the test rewrites
#                        must keep their form (see the file's head comment)
set -euo pipefail

conf_src=${VIEWTRON_NGINX_CONF:-$(dirname "${BASH_SOURCE[0]}")/viewtron.conf}
[ -f "$conf_src" ] || {
    echo "test.sh: no such file: $conf_src" >&2
    exit 1
}
conf_src=$(cd "$(dirname "$conf_src")" && pwd)/$(basename "$conf_src")
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
sink_seconds=${SINK_SECONDS:-30}
if ! [[ $sink_seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "test.sh: SINK_SECONDS must be a whole number of seconds, not '$sink_seconds'" >&2
    exit 1
fi

say() { echo "nginx-test: $*"; }
skip() {
    say "SKIP: $*"
    exit 0
}

# ------------------------------------------------------------------ tools

find_nginx() {
    command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

nginx_bin=$(find_nginx)
if [ -z "$nginx_bin" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        skip "nginx is not installed and there is no apt-get to install it"
    fi
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            skip "nginx is not installed, and installing it needs root (or passwordless sudo)"
        fi
    fi
    say "installing nginx (apt-get)"
    install_log=$(mktemp)
    if ! { "${as_root[@]}" apt-get update -qq &&
        { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light ||
            "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }; } \
        >"$install_log" 2>&1; then
        tail -n 5 "$install_log" | sed 's/^/nginx-test:   /'
        rm -f "$install_log"
        skip "nginx could not be installed"
    fi
    rm -f "$install_log"
    nginx_bin=$(find_nginx)
    [ -n "$nginx_bin" ] || skip "nginx was installed but no nginx binary was found"
fi
command -v python3 >/dev/null 2>&1 || skip "python3 is needed for the checks and is missing"
say "using $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), $(python3 --version)"

say "building the sink and simulate examples (release)"
cargo build --release --quiet --example sink --example simulate
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target_dir/release/examples

# ------------------------------------------------------------------ cleanup

tmp=$(mktemp -d "${TMPDIR:-/tmp}/viewtron-nginx.XXXXXX")
pids=()
cleanup() {
    local pid child tries
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for ((tries = 0; tries < 50; tries++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            for child in $(pgrep -P "$pid" 2>/dev/null || true); do
                kill -KILL "$child" 2>/dev/null || true
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

write_helper() {
    # The Python side: `recorder` (a stand-in upstream for instance B) and
    # `checks` (every check, with raw sockets).
    cat >"$tmp/helper.py" <<'PY'
import json
import os
import socket
import sys
import threading
import time

TIMEOUT = 10.0  # any single connect, read or write
SUCCESS_XML = (b'<?xml version="1.0" encoding="UTF-8"?><config version="1.0" '
               b'xmlns="http://www.ipc.com/ver10"><status>success</status></config>')
SUCCESS = b"<status>success</status>"
NGINX_PAGE = b"<center>nginx</center>"  # in nginx's own error pages, never viewtron's
BIG = 20 * 1024 * 1024  # 20 MiB, over client_max_body_size 16m


class Closed(Exception):
    """The peer closed (or reset) the connection."""

    def __init__(self):
        super().__init__("the peer closed the connection")


class Conn:
    """A socket with a read buffer and HTTP/1.1 response parsing."""

    def __init__(self, port=None, sock=None):
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.settimeout(TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, b""

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            raise Closed()
        self.buf += data

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        head, _, self.buf = self.buf.partition(sep)
        return head

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self):
        """(first line, {lowercased name: value}) of the next message head."""
        lines = self.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = (headers[key] + ", " if key in headers else "") + value.strip()
        return lines[0], headers

    def body(self, headers, to_eof=False):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self.until(b"\r\n")  # no trailers expected
                    return out
                out += self.exact(size)
                self.exact(2)
        if "content-length" in headers:
            return self.exact(int(headers["content-length"]))
        if to_eof:
            while True:
                try:
                    self.fill()
                except Closed:
                    data, self.buf = self.buf, b""
                    return data
        return b""

    def response(self):
        """(status, headers, body); a 100 Continue comes back as status 100."""
        line, headers = self.head()
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError(f"not an HTTP status line: {line!r}")
        status = int(parts[1])
        if status == 100:
            return status, headers, b""
        return status, headers, self.body(headers, to_eof="content-length" not in headers)

    def closed_within(self, seconds):
        """Seconds until the peer closes (or resets), None if it stays open."""
        start = time.monotonic()
        self.sock.settimeout(seconds)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf += data
        except ConnectionResetError:
            pass
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(TIMEOUT)
        return time.monotonic() - start

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def request(body, target="/API", host="127.0.0.1", extra=(), close=False,
            chunks=None, length=None, content_type="application/xml"):
    """A camera-style POST (head and body, or only the head with `length`)."""
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"Content-Type: {content_type}"]
    if chunks is not None:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    if close:
        lines.append("Connection: close")
    lines.extend(extra)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if chunks is not None:
        return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return head if length is not None else head + body


def send_in_background(conn, data):
    """Writes data on a thread (a client that does not wait for the answer);
    returns the thread. Errors (the server closing early) are expected."""
    def run():
        try:
            conn.sock.sendall(data)
        except OSError:
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------ recorder

def recorder(port_file, log_file, lifetime):
    """A stand-in upstream: answers every request 200 with the success XML,
    keep-alive, and appends one JSON line per request to log_file (before
    answering) with its request line, headers, body length and the times of
    its first and last byte."""
    lock = threading.Lock()
    log = open(log_file, "a", buffering=1)

    def serve(sock):
        peer = sock.getpeername()[1]  # nginx's end of this upstream connection
        conn = Conn(sock=sock)
        conn.sock.settimeout(lifetime)
        try:
            while True:
                if not conn.buf:
                    conn.fill()
                t_first = time.time()
                line, headers = conn.head()
                body = conn.body(headers)
                record = {"t_first": t_first, "t_last": time.time(), "line": line,
                          "headers": headers, "body_len": len(body), "peer": peer}
                with lock:
                    log.write(json.dumps(record) + "\n")
                answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(SUCCESS_XML), SUCCESS_XML))
                conn.send(answer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (Closed, OSError, ValueError):
            pass
        finally:
            conn.close()

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    with open(port_file + ".part", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(port_file + ".part", port_file)

    def accept_loop():
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=serve, args=(sock,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    time.sleep(lifetime)  # bounded: never outlives the test


def recorded(log_file, test_id):
    """The recorder's record of the request carrying X-Test-Id: test_id."""
    with open(log_file) as f:
        for line in f:
            record = json.loads(line)
            if record["headers"].get("x-test-id") == test_id:
                return record
    return None


def record_count(log_file):
    with open(log_file) as f:
        return sum(1 for _ in f)


# ------------------------------------------------------------------ checks

class Checks:
    def __init__(self, args):
        self.a = int(args["a_port"])
        self.b = int(args["b_port"])
        self.perip = int(args["perip"])
        self.b_total = int(args["b_total"])
        self.b_timeout = float(args["b_timeout"])
        self.log = args["recorder_log"]
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
    def total_cap(self):
        held = []
        try:
            for i in range(self.b_total):
                held.append(self.hold(self.b, test_id=f"total-{i}"))
            extra = Conn(self.b)
            try:
                extra.send(request(self.camera, extra=["X-Test-Id: total-extra"]))
                refused, _, page = extra.response()
            finally:
                extra.close()
            for conn in held:
                good, status = self.finish(conn)
                if not good:
                    return False, f"a held post answered {status} when completed"
        finally:
            for conn in held:
                conn.close()
        ok = (refused in (429, 503) and NGINX_PAGE in page
              and recorded(self.log, "total-extra") is None)
        return ok, (f"{self.b_total} requests in flight (total cap {self.b_total}, per-IP cap "
                    f"{self.perip}): the next got {refused}; the held ones completed 200")

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


def checks(args):
    c = Checks(args)
    print(f"-- instance A (viewtron.conf as shipped, per-IP cap {c.perip}) -> sink", flush=True)
    c.run("1 camera keep-alive", c.camera_keepalive)
    c.run("2 NVR absolute-form", c.nvr_absolute)
    c.run("3 body limit (Content-Length)", lambda: c.big_body(chunked=False))
    c.run("3 body limit (chunked)", lambda: c.big_body(chunked=True))
    c.run("4 header limits", c.big_headers)
    c.run("5 per-IP connection cap", c.perip_flood)
    c.run("6 garbage and HTTP/2", c.garbage)
    print(f"-- instance B (total cap {c.b_total}, timeouts {c.b_timeout:g} s) -> recorder", flush=True)
    c.run("B1 real client IP", c.client_ip)
    c.run("B2 bodies re-framed", c.reframed)
    c.run("B3 slow body buffered", c.slow_body)
    c.run("B4 total connection cap", c.total_cap)
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
PY
}

# wait_for WHAT PID TRIES COMMAND...: runs COMMAND every 0.05 s until it
# succeeds; fails when PID dies or after TRIES attempts.
wait_for() {
    local what=$1 pid=$2 tries=$3
    shift 3
    local i
    for ((i = 0; i < tries; i++)); do
        if "$@" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || {
            say "$what exited while starting"
            return 1
        }
        sleep 0.05
    done
    say "$what was not ready after $((tries / 20)) s"
    return 1
}

port_open() {
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1"
}

# substitute FILE SED-EXPRESSION PATTERN: applies the expression to FILE,
# insisting that PATTERN (a grep -E) matched exactly one line first, so a
# change to viewtron.conf that the test no longer understands fails loudly.
substitute() {
    local file=$1 expression=$2 pattern=$3 count
    count=$(grep -cE "$pattern" "$file" || true)
    if [ "$count" != 1 ]; then
        say "viewtron.conf: expected exactly one line matching '$pattern', found $count"
        exit 1
    fi
    sed -i -E "$expression" "$file"
}

# start_nginx NAME UPSTREAM_PORT [SED-EXPRESSION PATTERN]...: writes an nginx
# prefix in $tmp/NAME around a copy of viewtron.conf (ports rewritten, plus
# any extra substitutions), starts nginx in the foreground as a child and
# sets nginx_port.
start_nginx() {
    local name=$1 upstream=$2
    shift 2
    local dir=$tmp/$name
    mkdir -p "$dir"/{client_body,proxy,fastcgi,uwsgi,scgi}
    for _ in 1 2 3; do
        nginx_port=$(python3 "$tmp/helper.py" free-port)
        cp "$conf_src" "$dir/viewtron.conf"
        substitute "$dir/viewtron.conf" "s/^([[:space:]]*)listen 5050 /\\1listen 127.0.0.1:$nginx_port /" \
            '^[[:space:]]*listen 5050 '
        substitute "$dir/viewtron.conf" "s/^([[:space:]]*)server 127\\.0\\.0\\.1:5051;/\\1server 127.0.0.1:$upstream;/" \
            '^[[:space:]]*server 127\.0\.0\.1:5051;'
        local args=("$@")
        while ((${#args[@]})); do
            substitute "$dir/viewtron.conf" "${args[0]}" "${args[1]}"
            args=("${args[@]:2}")
        done
        {
            echo "# generated by deploy/nginx/test.sh"
            [ "$(id -u)" -ne 0 ] || echo "user $(id -un) $(id -gn);"
            echo "worker_processes 1;"
            echo "pid $dir/nginx.pid;"
            echo "error_log $dir/error.log info;"
            echo "events { worker_connections 512; }"
            echo "http {"
            echo "    log_format test '\$remote_addr \"\$request\" \$status in=\$request_length up=\$upstream_addr/\$upstream_status conn=\$connection/\$connection_requests';"
            echo "    access_log $dir/access.log test;"
            for temp in client_body proxy fastcgi uwsgi scgi; do
                echo "    ${temp}_temp_path $dir/$temp;"
            done
            echo "    include $dir/viewtron.conf;"
            echo "}"
        } >"$dir/nginx.conf"
        if ! "$nginx_bin" -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/t.err"; then
            say "nginx rejects the configuration:"
            sed 's/^/nginx-test:   /' "$dir/t.err"
            exit 1
        fi
        "$nginx_bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
            >"$dir/stdout" 2>&1 &
        local pid=$!
        pids+=("$pid")
        if wait_for "nginx $name" "$pid" 100 port_open "$nginx_port"; then
            return 0
        fi
        if grep -q 'Address already in use' "$dir/error.log" 2>/dev/null; then
            say "port $nginx_port was taken meanwhile; trying another"
            continue
        fi
        sed 's/^/nginx-test:   /' "$dir/error.log" "$dir/stdout" 2>/dev/null || true
        exit 1
    done
    say "nginx $name found no free port"
    exit 1
}

# ------------------------------------------------------------------ start

write_helper
start=$SECONDS

"$bin/sink" 0 "$sink_seconds" >"$tmp/sink.out" 2>"$tmp/sink.err" &
sink_pid=$!
pids+=("$sink_pid")
sink_port=
find_sink_port() {
    sink_port=$(grep -om1 'listening on 127\.0\.0\.1:[0-9]*' "$tmp/sink.err" | grep -o '[0-9]*$')
}
wait_for "sink" "$sink_pid" 200 find_sink_port || exit 1
say "sink on 127.0.0.1:$sink_port for ${sink_seconds}s"

: >"$tmp/recorder.log"
python3 "$tmp/helper.py" recorder "$tmp/recorder.port" "$tmp/recorder.log" 120 \
    2>"$tmp/recorder.err" &
recorder_pid=$!
pids+=("$recorder_pid")
wait_for "recorder" "$recorder_pid" 200 test -s "$tmp/recorder.port" || exit 1
recorder_port=$(cat "$tmp/recorder.port")

perip=$(grep -oE '^[[:space:]]*limit_conn viewtron_perip [0-9]+;' "$conf_src" | grep -oE '[0-9]+')
[ -n "$perip" ] || {
    say "viewtron.conf: no 'limit_conn viewtron_perip N;' line"
    exit 1
}

start_nginx a "$sink_port"
a_port=$nginx_port
say "nginx A (viewtron.conf as shipped) on 127.0.0.1:$a_port -> sink"

b_total=3
b_timeout=2
start_nginx b "$recorder_port" \
    "s/^([[:space:]]*limit_conn viewtron_total) [0-9]+;/\\1 $b_total;/" \
    '^[[:space:]]*limit_conn viewtron_total [0-9]+;' \
    "s/^([[:space:]]*client_header_timeout) 150s;/\\1 ${b_timeout}s;/" \
    '^[[:space:]]*client_header_timeout 150s;' \
    "s/^([[:space:]]*client_body_timeout) 150s;/\\1 ${b_timeout}s;/" \
    '^[[:space:]]*client_body_timeout 150s;' \
    "s/^([[:space:]]*keepalive_timeout) 150s;/\\1 ${b_timeout}s;/" \
    '^[[:space:]]*keepalive_timeout 150s;'
b_port=$nginx_port
say "nginx B (total cap $b_total, timeouts ${b_timeout}s) on 127.0.0.1:$b_port -> recorder"

# ------------------------------------------------------------------ checks

failures=0
pass() { echo "PASS  $*"; }
fail() {
    echo "FAIL  $*"
    failures=$((failures + 1))
}

camera_post=$root/tests/fixtures/v1-lpr-vehice.xml
nvr_post=$root/tests/fixtures/v2-lpr-vehicle.xml
sim_ok=0

# simulate CHECK-NAME N ARGS...: N posts through A with examples/simulate.rs.
simulate() {
    local name=$1 n=$2 line ok
    shift 2
    line=$(timeout 30 "$bin/simulate" --quiet -n "$n" "$@" 2>"$tmp/sim.err" | tail -n 1) || true
    ok=$(grep -oE '(^| )ok=[0-9]+' <<<"$line" | grep -oE '[0-9]+' || echo 0)
    sim_ok=$((sim_ok + ok))
    if [[ $line == *"ok=$n errors=0"* ]]; then
        pass "$name: simulate: $line"
    else
        fail "$name: simulate: ${line:-no report} $(tail -n 3 "$tmp/sim.err")"
    fi
}

echo "-- examples/simulate.rs through instance A"
simulate "1 cameras (simulate)" 200 -c 4 "http://127.0.0.1:$a_port/API" "$camera_post" "$nvr_post"
simulate "2 NVR (simulate)" 20 --close --absolute --soap "http://127.0.0.1:$a_port/API" "$nvr_post"

checks_status=0
python3 "$tmp/helper.py" checks a_port="$a_port" b_port="$b_port" \
    perip="$perip" b_total="$b_total" b_timeout="$b_timeout" \
    recorder_log="$tmp/recorder.log" camera_post="$camera_post" nvr_post="$nvr_post" \
    ok_file="$tmp/ok_posts" || checks_status=$?
if ((checks_status != 0)); then
    failures=$((failures + 1)) # the checks printed their own FAIL lines
fi

# ------------------------------------------------------------------ (7) count

echo "-- the sink's count"
checks_took=$((SECONDS - start))
say "the checks took ${checks_took}s; waiting for the sink's summary (it stops ${sink_seconds}s after its start)"
if ((checks_took > sink_seconds - 2)); then
    fail "7 sink count: the checks took ${checks_took}s, too close to the sink's ${sink_seconds}s (raise SINK_SECONDS)"
fi
expected=$(($(cat "$tmp/ok_posts" 2>/dev/null || echo 0) + sim_ok))
sink_status=0
for ((i = 0; i < (sink_seconds + 15) * 10; i++)); do
    kill -0 "$sink_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$sink_pid" 2>/dev/null; then
    fail "7 sink count: the sink did not exit within $((sink_seconds + 15))s"
else
    wait "$sink_pid" || sink_status=$?
    summary=$(tail -n 1 "$tmp/sink.out")
    events=$(grep -oE '^events=[0-9]+' <<<"$summary" | grep -oE '[0-9]+' || true)
    requests=$(grep -oE 'requests=[0-9]+' <<<"$summary" | grep -oE '[0-9]+' || true)
    if ((sink_status != 0)) || [ -z "$events" ]; then
        fail "7 sink count: the sink exited $sink_status with '$summary'"
    elif [ "$events" = "$expected" ] && [ "$requests" = "$expected" ]; then
        pass "7 sink count: sink says '$summary'; $expected posts were answered 200 through nginx, and nothing else reached viewtron"
    else
        fail "7 sink count: sink says '$summary', but $expected posts were answered 200 through nginx"
    fi
fi

if ((failures)); then
    for name in a b; do
        echo "-- nginx $name error log (last 15 lines)"
        tail -n 15 "$tmp/$name/error.log" 2>/dev/null | cat -v || true
        echo "-- nginx $name access log (last 15 lines)"
        tail -n 15 "$tmp/$name/access.log" 2>/dev/null | cat -v || true
    done
    say "FAILED ($((SECONDS - start))s)"
    exit 1
fi
say "all checks passed ($((SECONDS - start))s)"

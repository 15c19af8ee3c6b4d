"""HTTP/1.1 on raw sockets, as deploy/nginx/test.sh's checks speak it
(helper.py, hostile.py; standard library only): a connection with a read
buffer and response parsing, camera-style POSTs built byte for byte, and
the constants the checks look for in answers.

Raw sockets rather than http.client: the checks send what no well-behaved
client would (bad framing, stalled bodies, requests never finished) and must
see exactly what comes back, including when the peer closes.
"""
import socket
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

    def __init__(self, port=None, sock=None, source=None):
        """A connection to 127.0.0.1:port, from the loopback address `source`
        when given (any 127.0.0.0/8 address: another host, as far as nginx
        and viewtron can tell)."""
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                            source_address=(source, 0) if source else None)
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

"""The stand-in upstream of instance B in deploy/nginx/test.sh (`helper.py
recorder ...`), and the reading of what it recorded: one JSON line per
request it received, so the checks can see what nginx forwarded.
"""
import json
import os
import socket
import threading
import time

from wire import SUCCESS_XML, Closed, Conn

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

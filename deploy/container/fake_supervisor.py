#!/usr/bin/env python3
"""The Supervisor's services API, as much of it as the app asks, for
deploy/container/test.sh: `GET /services/mqtt` with the app's token.

    fake_supervisor.py TOKEN HOST PORT USERNAME PASSWORD PORT_FILE LOG_FILE

Listens on a free port of 127.0.0.1 (written to PORT_FILE once it
listens). `GET /services/mqtt` with `Authorization: Bearer TOKEN` is
answered as the Supervisor answers an app that has `services: mqtt:want`
and the Mosquitto broker app installed:

    {"result": "ok", "data": {"addon": "core_mosquitto", "host": HOST,
     "port": PORT, "ssl": false, "protocol": "3.1.1",
     "username": USERNAME, "password": PASSWORD}}

Without that token: 401; another path: 404 (both `{"result": "error"}`).
Every request is logged to LOG_FILE, one line each:
`METHOD PATH token=yes|no|wrong STATUS`. Stops on SIGTERM.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main(argv):
    if len(argv) != 8:
        raise SystemExit(__doc__)
    token, host, port, username, password, port_file, log_file = argv[1:]
    service = {
        "result": "ok",
        "data": {
            "addon": "core_mosquitto",
            "host": host,
            "port": int(port),
            "ssl": False,
            "protocol": "3.1.1",
            "username": username,
            "password": password,
        },
    }
    log = open(log_file, "a", buffering=1, encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            auth = self.headers.get("Authorization")
            if auth is None:
                seen = "no"
            elif auth == f"Bearer {token}":
                seen = "yes"
            else:
                seen = "wrong"
            if seen != "yes":
                status, body = 401, {"result": "error", "message": "Unauthorized"}
            elif self.path != "/services/mqtt":
                status, body = 404, {"result": "error", "message": "Not found"}
            else:
                status, body = 200, service
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            log.write(f"{self.command} {self.path} token={seen} {status}\n")

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(port_file + ".part", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(port_file + ".part", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)

#!/usr/bin/env python3
"""Run the vendor's bridge script unchanged, listening on 127.0.0.1 only.

    python run_vendor.py path/to/viewtron_bridge.py

The vendor's SDK server binds every interface ("") and has no setting for
it; our tests and benchmarks keep to loopback. This wrapper narrows the
address its TCP servers bind to and then runs the script as `__main__`, so
everything else (its config.yaml next to the script, its images folder, its
output) is exactly as when it is run directly.
"""

import runpy
import socketserver
import sys

_init = socketserver.TCPServer.__init__


def _loopback_init(self, server_address, *args, **kwargs):
    host, port = server_address[:2]
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    _init(self, (host, port), *args, **kwargs)


socketserver.TCPServer.__init__ = _loopback_init

if __name__ == "__main__":
    script = sys.argv[1]
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")

#!/usr/bin/env python3
"""The reference Python SDK's server (PyPI `viewtron` 1.4.1) as a benchmark
sink, for `bench/run.sh --python-sdk`: same contract as `examples/sink.rs`.

    python3 bench/python_sdk_server.py PORT SECONDS

Runs `ViewtronServer` with a no-op `on_event` that only counts, on
127.0.0.1:PORT (0 picks a free port; the address is on standard error), for
SECONDS, then shuts it down and prints one line on standard output:

    events=N peak_rss_kb=K

The SDK binds every interface and looks up the LAN address for its banner;
both are patched here to stay on loopback. Everything else is the SDK as
shipped, including its three-line banner on standard output (the summary is
the last line). Exit status 2 on a usage error.
"""

import sys
import threading
import time


def peak_rss_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> int:
    try:
        port, seconds = int(sys.argv[1]), float(sys.argv[2])
        if len(sys.argv) != 3 or seconds <= 0:
            raise ValueError
    except (IndexError, ValueError):
        print("usage: python_sdk_server.py PORT SECONDS", file=sys.stderr)
        return 2

    import viewtron.server as sdk
    from viewtron import ViewtronServer

    class LoopbackServer(sdk._ThreadedHTTPServer):
        def __init__(self, address, handler):
            super().__init__(("127.0.0.1", address[1]), handler)

    sdk._ThreadedHTTPServer = LoopbackServer
    sdk._get_lan_ip = lambda: "127.0.0.1"

    events = 0
    lock = threading.Lock()

    def on_event(_event, _client_ip):
        nonlocal events
        with lock:
            events += 1

    server = ViewtronServer(port=port, on_event=on_event)
    runner = threading.Thread(target=server.serve_forever, daemon=True)
    runner.start()
    print(
        f"python-sdk: listening on 127.0.0.1:{server.port} for {seconds}s",
        file=sys.stderr,
        flush=True,
    )
    time.sleep(seconds)
    server.shutdown()
    runner.join(timeout=10)
    with lock:
        counted = events
    print(f"events={counted} peak_rss_kb={peak_rss_kb()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

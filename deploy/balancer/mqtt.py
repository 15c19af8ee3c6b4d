#!/usr/bin/env python3
"""A minimal MQTT 3.1.1 client for deploy/balancer/test.sh (standard library
only): a recorder that subscribes and writes every message it gets, and a
one-shot publish.

    mqtt.py record PORT OUT_FILE READY_FILE FILTER...
    mqtt.py publish PORT TOPIC PAYLOAD

`record` connects to 127.0.0.1:PORT with a clean session, subscribes to each
FILTER at QoS 1 (acknowledging every QoS 1 message, so the broker delivers
all of them), touches READY_FILE once the broker has granted the
subscriptions, then appends one JSON line per message to OUT_FILE, flushed
at once:

    {"topic": "...", "retain": false, "qos": 1, "text": "..." or null, "size": N}

(`text` is the payload when it is UTF-8, else null). It runs until killed,
or until the broker closes the connection.
"""
import json
import socket
import struct
import sys

TIMEOUT = 10.0


def encode_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(text):
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def packet(kind, body):
    return bytes([kind]) + encode_length(len(body)) + body


class Client:
    def __init__(self, port, client_id):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        # CONNECT: protocol "MQTT" level 4, clean session, no keep-alive (the
        # broker then never expects a ping).
        self.sock.sendall(packet(0x10, utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0)
                                 + utf8(client_id)))
        kind, body = self.read()
        if kind >> 4 != 2 or len(body) < 2 or body[1] != 0:
            raise RuntimeError(f"broker refused the connection: {kind:#x} {body!r}")

    def exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the broker closed the connection")
            self.buf += data
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read(self):
        """(first byte, body) of the next packet."""
        kind = self.exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self.exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return kind, self.exact(length)

    def subscribe(self, filters):
        body = struct.pack("!H", 1) + b"".join(utf8(f) + bytes([1]) for f in filters)
        self.sock.sendall(packet(0x82, body))
        while True:
            kind, body = self.read()
            if kind >> 4 == 9:
                if any(code == 0x80 for code in body[2:]):
                    raise RuntimeError("the broker refused a subscription")
                return
            self.on_publish(kind, body)  # nothing is retained yet; be safe anyway

    def publish(self, topic, payload):
        """QoS 0, not retained."""
        self.sock.sendall(packet(0x30, utf8(topic) + payload))

    def disconnect(self):
        try:
            self.sock.sendall(bytes([0xE0, 0]))
        finally:
            self.sock.close()

    def on_publish(self, kind, body):
        pass


class Recorder(Client):
    def __init__(self, port, out):
        self.out = out
        super().__init__(port, f"balancer-test-recorder-{port}")

    def on_publish(self, kind, body):
        if kind >> 4 != 3:
            return
        qos = (kind >> 1) & 3
        (n,) = struct.unpack("!H", body[:2])
        topic = body[2:2 + n].decode("utf-8")
        rest = body[2 + n:]
        if qos:
            packet_id, rest = rest[:2], rest[2:]
            self.sock.sendall(bytes([0x40, 2]) + packet_id)  # PUBACK
        try:
            text = rest.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        self.out.write(json.dumps({"topic": topic, "retain": bool(kind & 1), "qos": qos,
                                   "text": text, "size": len(rest)}) + "\n")
        self.out.flush()

    def run(self):
        self.sock.settimeout(None)  # a recorder waits for as long as it runs
        try:
            while True:
                self.on_publish(*self.read())
        except EOFError:
            pass


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "record" and len(sys.argv) >= 6:
        port, out_file, ready_file, filters = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
        with open(out_file, "a", encoding="utf-8") as out:
            recorder = Recorder(port, out)
            recorder.subscribe(filters)
            with open(ready_file, "w", encoding="utf-8") as ready:
                ready.write("ready\n")
            recorder.run()
    elif mode == "publish" and len(sys.argv) == 5:
        client = Client(int(sys.argv[2]), f"balancer-test-publisher-{sys.argv[2]}")
        client.publish(sys.argv[3], sys.argv[4].encode("utf-8"))
        client.disconnect()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

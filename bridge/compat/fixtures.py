"""The fixtures the compatibility scripts post, and where each is posted from.

Shared by `capture.py` and `home_assistant.py` (both import it from this
folder). The posts are every `*.xml` in `tests/fixtures/` (sorted), then every
`*.xml` in its subfolders (sorted by path, e.g. `names/v1-lpr-cjk.xml`): the
top-level files are the library's golden fixtures, the subfolders hold posts
written for the bridge only.

Each post comes from the default camera address unless the file says
otherwise in a comment, `<!-- camera address: 127.0.0.11 -->`: the camera id
(and so every topic, unique id and entity id) is made from the device name
and the address, and the unusual names in `names/` would otherwise collapse
onto one id and one Home Assistant device. The address must be on loopback
(the whole 127.0.0.0/8 is, on Linux).
"""

import os
import re

ADDRESS_RE = re.compile(rb"<!--\s*camera address:\s*([0-9.]+)\s*-->")


def camera_address(body):
    """The address a fixture asks to be posted from, or None."""
    m = ADDRESS_RE.search(body)
    return m.group(1).decode("ascii") if m else None


def fixtures(root):
    """[(relative path with '/', body bytes, address or None)], in post order."""
    top, nested = [], []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            if not name.endswith(".xml"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            (top if "/" not in rel else nested).append(rel)
    out = []
    for rel in sorted(top) + sorted(nested):
        with open(os.path.join(root, rel), "rb") as f:
            body = f.read()
        out.append((rel, body, camera_address(body)))
    return out

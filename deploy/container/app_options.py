#!/usr/bin/env python3
"""Writes the app's /data/options.json as the Supervisor writes it from
home-assistant/viewtron-bridge/config.yaml, for deploy/container/test.sh.

    app_options.py CONFIG_YAML OUT [--only KEY,KEY...] [KEY=JSON...]

The Supervisor starts from the app's `options` (the defaults, in their
order), lays the user's choices over them, validates the result against
`schema` (optional keys with no default stay absent, as `mqtt_ca_file`
does) and writes it as JSON indented by 2, UTF-8, no newline at the end
(its json_bytes: orjson with OPT_INDENT_2). KEY=JSON are the user's
choices (`bridge_port=5123`, `mqtt_broker="auto"`); KEY=JSON for a key the
app does not have is written all the same (for the wrong-options checks).
--only keeps just those keys, in the defaults' order (the vendor's option
set, a user coming from the vendor's app).

config.yaml is read with PyYAML when it can be imported, else with the tiny
reader below (enough for the `options:` block: scalars, [] and - lists).
With PyYAML both are run and must agree, so the fallback stays right.
Prints the keys written, on one line.
"""

import json
import sys


def tiny_options(text):
    """The top-level `options:` mapping of a simple YAML file."""

    def scalar(raw):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            return json.loads(raw)
        if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
            return raw[1:-1].replace("''", "'")
        if raw == "[]":
            return []
        if raw == "{}":
            return {}
        if raw in ("true", "True", "TRUE"):
            return True
        if raw in ("false", "False", "FALSE"):
            return False
        if raw in ("null", "~", ""):
            return None
        try:
            return int(raw)
        except ValueError:
            pass
        try:
            return float(raw)
        except ValueError:
            return raw

    options = None
    key = None
    for line in text.splitlines():
        stripped = line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not stripped.strip():
            continue
        indent = len(stripped) - len(stripped.lstrip(" "))
        if indent == 0:
            if options is not None:
                break
            if stripped == "options:":
                options = {}
            continue
        if options is None:
            continue
        body = stripped.strip()
        if body.startswith("- "):
            if key is None or not isinstance(options.get(key), list):
                raise SystemExit(f"app_options: cannot read the list item {body!r} in config.yaml")
            options[key].append(scalar(body[2:]))
            continue
        name, sep, value = body.partition(":")
        if not sep:
            raise SystemExit(f"app_options: cannot read {body!r} in config.yaml's options")
        key = name.strip()
        options[key] = [] if value.strip() == "" else scalar(value)
    if options is None:
        raise SystemExit("app_options: no options: block in config.yaml")
    return options


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    config, out = argv[1], argv[2]
    only = None
    choices = {}
    rest = argv[3:]
    while rest:
        arg = rest.pop(0)
        if arg == "--only":
            only = rest.pop(0).split(",")
            continue
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"app_options: expected KEY=JSON, got {arg!r}")
        choices[key] = json.loads(value)

    text = open(config, encoding="utf-8").read()
    defaults = tiny_options(text)
    try:
        import yaml
    except ImportError:
        reader = "tiny reader (no PyYAML)"
    else:
        parsed = yaml.safe_load(text)["options"]
        if parsed != defaults or list(parsed) != list(defaults):
            raise SystemExit(f"app_options: the tiny reader read {defaults}, PyYAML {parsed}")
        reader = "PyYAML"

    if only is not None:
        unknown = [k for k in only if k not in defaults]
        if unknown:
            raise SystemExit(f"app_options: --only names keys config.yaml's options lack: {unknown}")
        defaults = {k: v for k, v in defaults.items() if k in only}
    options = dict(defaults)
    options.update(choices)
    with open(out, "w", encoding="utf-8") as f:
        f.write(json.dumps(options, indent=2, ensure_ascii=False))
    print(f"{', '.join(options)} (config.yaml read with {reader})")


if __name__ == "__main__":
    main(sys.argv)

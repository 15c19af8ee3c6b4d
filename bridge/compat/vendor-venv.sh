#!/usr/bin/env bash
# Prints the path of a Python venv that runs the vendor's bridge, creating it
# first when missing, with the dependencies at the versions the stored capture
# was made with (the vendor's Dockerfile asks for viewtron>=1.3.0, paho-mqtt,
# requests and pyyaml, unpinned).
#
#   venv=$(bash bridge/compat/vendor-venv.sh)
#
# Environment: VENV [${XDG_CACHE_HOME:-~/.cache}/viewtron-compat/venv],
# PYTHON, the interpreter that creates it [pyenv's 3.12, python3.12, python3].
set -euo pipefail

venv=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/viewtron-compat/venv}
if [ ! -x "$venv/bin/python" ]; then
    python=${PYTHON:-}
    if [ -z "$python" ]; then
        # The first that really runs (a pyenv shim may exist and fail).
        for candidate in "$HOME"/.pyenv/versions/3.12.*/bin/python python3.12 python3; do
            if "$candidate" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
                python=$candidate
                break
            fi
        done
    fi
    [ -n "$python" ] || { echo "vendor-venv.sh: no Python 3 found; set PYTHON" >&2; exit 2; }
    echo "vendor-venv.sh: creating $venv with $python" >&2
    "$python" -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        viewtron==1.4.1 paho-mqtt==2.2.0 PyYAML==6.0.4 requests==2.34.2 >&2
fi
echo "$venv"

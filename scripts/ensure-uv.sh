#!/usr/bin/env bash
# Make `uv` available (installed from PyPI with the machine's Python when missing).
set -euo pipefail
if ! command -v uv >/dev/null 2>&1; then
  echo "uv: not found; installing it from PyPI"
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
  hash -r
fi
command -v uv >/dev/null 2>&1 || export PATH="$HOME/.local/bin:$PATH"
uv --version

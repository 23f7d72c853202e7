#!/usr/bin/env bash
# Make `uv` available (installed from PyPI with the machine's Python when missing) and pick the Python the
# environment is built with: 3.12 when the machine has it (its imagecodecs release decodes the
# HTJ2K archive copies faster), else whatever Python >= 3.11 uv finds. UV_PYTHON, when set, wins.
set -euo pipefail
if ! command -v uv >/dev/null 2>&1; then
  echo "uv: not found; installing it from PyPI"
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
  hash -r
fi
command -v uv >/dev/null 2>&1 || export PATH="$HOME/.local/bin:$PATH"
uv --version

if [ -z "${UV_PYTHON:-}" ]; then
  # --system: not the project's own .venv (its interpreter is not one to build a venv from).
  preferred="$(uv python find --no-project --system '==3.12.*' 2>/dev/null || true)"
  if [ -z "$preferred" ] && command -v pyenv >/dev/null 2>&1; then
    # pyenv keeps non-global versions behind shims uv cannot run: look in its versions folder.
    preferred="$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  if [ -n "$preferred" ]; then
    export UV_PYTHON="$preferred"
  fi
fi
echo "python: ${UV_PYTHON:-the first >= 3.11 that uv finds}"

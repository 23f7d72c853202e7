#!/usr/bin/env bash
# Set up and run the demo on the embedded default: SQLite, local folder storage, in-process jobs.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-uv.sh
uv sync --frozen --all-packages
exec uv run bitewing demo "$@"

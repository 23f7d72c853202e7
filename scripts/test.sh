#!/usr/bin/env bash
# Set up and run the whole test suite: system packages, services, Python environment, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-uv.sh
bash .ci/install-system-packages.sh
bash scripts/start-services.sh
uv sync --frozen --all-packages

echo "== lint"
uv run ruff check .
uv run ruff format --check .
uv run lint-imports

echo "== tests"
uv run pytest "$@"

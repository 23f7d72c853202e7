"""`uv run python bench/run.py [--suite NAME]`: the same as `uv run python -m bench`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Run every benchmark suite (or `--suite NAME`) and write bench/results/NAME.json and NAME.md."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

SUITES = ("imaging", "ingest", "latency", "storage", "routing")
RESULTS = Path(__file__).resolve().parent / "results"


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (hosts of one machine kind differ), else the architecture."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def _environment() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites, write their results, print where they went."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--suite", choices=SUITES, action="append", help="run only this suite (repeatable)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and images, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default bench/results)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.suite or SUITES:
        suite = importlib.import_module(f"bench.{name}")
        start = time.perf_counter()
        results = {"environment": _environment(), **suite.run(quick=args.quick)}
        results["environment"]["seconds"] = round(time.perf_counter() - start, 1)
        (args.out / f"{name}.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
        (args.out / f"{name}.md").write_text(suite.markdown(results))
        print(f"{name}: {args.out / name}.json, .md ({results['environment']['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

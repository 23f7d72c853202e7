"""Bitewing benchmarks: one command (`uv run python -m bench`), results checked in under bench/results/.

A suite is a module in this package listed in `bench.__main__.SUITES`; it exposes `run(quick: bool) -> dict`
(JSON-serialisable results) and `markdown(results: dict) -> str` (the human report).
"""

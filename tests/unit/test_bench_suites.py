"""Every benchmark suite imports and has its entry points: a renamed helper must not leave `make bench`
broken until someone next runs it."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import SUITES


@pytest.mark.parametrize("name", SUITES)
def test_suite_imports_with_run_and_markdown(name: str) -> None:
    suite = importlib.import_module(f"bench.{name}")
    assert callable(suite.run) and callable(suite.markdown)

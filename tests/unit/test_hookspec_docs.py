"""Every hook is documented: in its docstring (the reference) and in the README (like datasette's test_docs)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from bitewing.core.plugins import PROJECT_NAME, hookspecs

ROOT = Path(__file__).resolve().parents[2]


def hook_names() -> list[str]:
    """Names of the functions marked as hookspecs in `bitewing.core.plugins.hookspecs`."""
    return sorted(
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{PROJECT_NAME}_spec")
    )


def test_there_are_hooks_and_all_carry_the_prefix() -> None:
    names = hook_names()
    assert "bitewing_blueprints" in names
    assert all(name.startswith("bitewing_") for name in names)


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_docstring_with_a_return_line(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc, f"hook {name} has no docstring"
    assert re.search(r"^:return:\s*\S", doc, re.MULTILINE), f"hook {name} does not document its return value"


@pytest.mark.parametrize("name", hook_names())
def test_hook_documents_each_parameter(name: str) -> None:
    function = getattr(hookspecs, name)
    doc = inspect.getdoc(function) or ""
    for parameter in inspect.signature(function).parameters:
        assert re.search(rf"^:param {parameter}:", doc, re.MULTILINE), (
            f"{name}: `{parameter}` is undocumented"
        )


@pytest.mark.parametrize("name", hook_names())
def test_readme_mentions_hook(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert name in readme, f"README.md does not mention the hook {name}"

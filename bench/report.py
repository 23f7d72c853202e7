"""Markdown pieces every suite's report shares: the title and environment line, the targets, tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], cell: Callable[[object], str] = str
) -> str:
    """A markdown table; `cell` turns each value into its text."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def environment(env: Mapping[str, Any]) -> str:
    """One sentence: Python, CPUs, the load average at start and the suite's seconds."""
    load = ", ".join(f"{x:.2f}" for x in env["load_average_at_start"])
    return (
        f"Python {env['python']} on {env['cpus']} CPUs ({env.get('cpu', env['machine'])}), "
        f"load average at start {load}, "
        f"{env['seconds']} s in all."
    )


def header(title: str, env: Mapping[str, Any], text: str) -> list[str]:
    """The report's opening lines: `# title`, then the environment sentence followed by `text`."""
    return [f"# {title}", "", f"{environment(env)} {text}".rstrip(), ""]


def targets_table(targets: Iterable[Mapping[str, Any]], cell: Callable[[object], str] = str) -> str:
    """The table of a suite's targets (each with target, measured, op, bound and met)."""
    return table(
        ["target", "measured", "bound", "met"],
        [
            [t["target"], t["measured"], f"{t['op']} {t['bound']}", "yes" if t["met"] else "**no**"]
            for t in targets
        ],
        cell,
    )


def targets_section(targets: Iterable[Mapping[str, Any]], cell: Callable[[object], str] = str) -> list[str]:
    """`## Targets` and its table, as lines of a report."""
    return ["## Targets", "", targets_table(targets, cell), ""]

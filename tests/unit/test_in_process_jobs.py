"""The embedded default's job runner takes queued jobs by queue priority, like RQ workers do."""

from __future__ import annotations

import threading
from typing import Any

from bitewing.core.jobs import job
from bitewing.core.jobs.runners import InProcessRunner

ran: list[str] = []
gate = threading.Event()


@job("default")
def _blocker(runtime: Any) -> None:
    gate.wait(10)


@job("archive")
def _archive(runtime: Any, n: int) -> None:
    ran.append(f"archive {n}")


@job("ingest")
def _render(runtime: Any, n: int) -> None:
    ran.append(f"ingest {n}")


@job("ingest")
def _failing(runtime: Any) -> None:
    raise RuntimeError("boom")


def test_waiting_renditions_run_before_waiting_archive_copies_and_failures_do_not_stop_the_runner() -> None:
    runner = InProcessRunner(runtime=None, workers=1)  # type: ignore[arg-type]
    try:
        runner.enqueue(_blocker)
        runner.enqueue(_archive, n=1)
        runner.enqueue(_failing)
        runner.enqueue(_render, n=1)
        runner.enqueue(_archive, n=2)
        runner.enqueue(_render, n=2)
        assert runner.enqueue(_render, n=2) == runner.enqueue(_render, n=2)  # still waiting: queued once
        gate.set()
        runner.drain(timeout=10)
        assert ran == ["ingest 1", "ingest 2", "archive 1", "archive 2"]
    finally:
        gate.set()
        runner.close()

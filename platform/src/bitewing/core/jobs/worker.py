"""The RQ worker process: builds one runtime at start and runs registered jobs by name."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any

from bitewing.core.jobs import QUEUES, REGISTRY
from bitewing.core.jobs.sweep import start_periodic_sweeper

_runtime: Any = None


def run_job(name: str, kwargs: dict[str, Any]) -> Any:
    """Entry point RQ calls: run the registered job `name` with this worker's runtime."""
    if name not in REGISTRY:
        importlib.import_module(name.split(":", 1)[0])
    return REGISTRY[name].func(_runtime, **kwargs)


def work(
    runtime: Any, queues: Sequence[str] = QUEUES, *, burst: bool = False, sweep_seconds: float = 15
) -> None:
    """Run an RQ worker on `queues` until stopped (or until empty with `burst`), with the periodic sweeper
    re-queueing lost work and due retries (every worker may sweep: the work it queues is idempotent)."""
    global _runtime
    from redis import Redis
    from rq import Queue, Worker

    _runtime = runtime
    connection = Redis.from_url(runtime.settings.redis_url)
    worker = Worker([Queue(q, connection=connection) for q in queues], connection=connection)
    stop = threading.Event()
    if not burst:
        start_periodic_sweeper(runtime, sweep_seconds, stop)
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()

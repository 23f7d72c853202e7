"""The RQ worker process: builds one runtime at start and runs registered jobs by name."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from bitewing.core.jobs import QUEUES, REGISTRY

_runtime: Any = None


def run_job(name: str, kwargs: dict[str, Any]) -> Any:
    """Entry point RQ calls: run the registered job `name` with this worker's runtime."""
    if name not in REGISTRY:
        importlib.import_module(name.split(":", 1)[0])
    return REGISTRY[name].func(_runtime, **kwargs)


def work(runtime: Any, queues: Sequence[str] = QUEUES, *, burst: bool = False) -> None:
    """Run an RQ worker on `queues` until stopped (or until empty with `burst`)."""
    global _runtime
    from redis import Redis
    from rq import Queue, Worker

    _runtime = runtime
    connection = Redis.from_url(runtime.settings.redis_url)
    worker = Worker([Queue(q, connection=connection) for q in queues], connection=connection)
    worker.work(burst=burst, with_scheduler=True)

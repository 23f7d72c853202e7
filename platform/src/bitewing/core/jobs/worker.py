"""The RQ worker process: builds one runtime at start and runs registered jobs by name."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any

from bitewing.core.jobs import QUEUES, REGISTRY, dedupe_key
from bitewing.core.jobs.runners import WAITING_MARKER
from bitewing.core.jobs.sweep import start_periodic_sweeper

_runtime: Any = None


JOB_MODULES = (
    "bitewing.core.ingest.processing",
    "bitewing.core.ingest.archiving",
    "bitewing.core.ingest.volumes",
    "bitewing.core.ingest.sources",
    "bitewing.core.deliveries.services",
)
"""Modules whose import registers every job (imported before the worker starts taking jobs)."""


def run_job(name: str, kwargs: dict[str, Any]) -> Any:
    """Entry point RQ calls: run the registered job `name` with this worker's runtime."""
    if name not in REGISTRY:
        importlib.import_module(name.split(":", 1)[0])
    spec = REGISTRY[name]
    _runtime.jobs.connection.delete(WAITING_MARKER + dedupe_key(spec, kwargs))
    return spec.func(_runtime, **kwargs)


def _preload() -> None:
    """Import every job module and warm the codecs once, so jobs do not pay for it."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    from bitewing.core.imaging import synthetic
    from bitewing.core.imaging.pipeline import archive_instance, render_instance

    warm_up = synthetic.to_bytes(synthetic.make_instance("intraoral", shape=(64, 64)))
    render_instance(warm_up)
    archive_instance(warm_up)


def live_workers(redis_url: str, hostname: str) -> list[str]:
    """Names of the RQ workers of `hostname` that are alive: RQ keeps a worker's key only as long as its
    heartbeat (renewed while it waits, and for each job's timeout while it runs one), so a hung or dead
    worker drops out of this list."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    try:
        return sorted(w.name for w in Worker.all(connection=connection) if w.hostname == hostname)
    finally:
        connection.close()


def work(
    runtime: Any, queues: Sequence[str] = QUEUES, *, burst: bool = False, sweep_seconds: float = 15
) -> None:
    """Run an RQ worker on `queues` until stopped (or until empty with `burst`), with the periodic sweeper
    re-queueing lost work and due retries (every worker may sweep: the work it queues is idempotent).

    Jobs run in this process (`SimpleWorker`), not in a fork per job: a fork would inherit the sweeper's
    database connections and import locks, and re-import the imaging stack for every job. Scale with more
    worker processes.
    """
    global _runtime
    from redis import Redis
    from rq import Queue, SimpleWorker

    _runtime = runtime
    _preload()
    connection = Redis.from_url(runtime.settings.redis_url)
    worker = SimpleWorker([Queue(q, connection=connection) for q in queues], connection=connection)
    stop = threading.Event()
    if not burst:
        start_periodic_sweeper(runtime, sweep_seconds, stop)
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()

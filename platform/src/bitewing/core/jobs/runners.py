"""Where jobs run: an RQ queue in Redis, or a thread pool inside the process (embedded default)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from bitewing.core.jobs import QUEUES, dedupe_key, spec_for

if TYPE_CHECKING:
    from bitewing.core.runtime import Runtime

log = logging.getLogger(__name__)

WAITING_MARKER = "bitewing:waiting:"
WAITING_MARKER_SECONDS = 6 * 3600
"""How long "already waiting" holds at most: longer than any backlog of archive copies a burst builds."""


class JobRunner(Protocol):
    """Queues job functions for execution."""

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        """Queue `func(runtime, **kwargs)`; returns a job id."""
        ...

    def close(self) -> None:
        """Stop accepting work and finish what is queued."""
        ...


def enqueue_or_leave_to_sweeper(runner: JobRunner, func: Callable[..., Any], **kwargs: Any) -> None:
    """Queue `func(runtime, **kwargs)`; a failure to queue (Redis unreachable) is logged, not raised: the
    database row the job works on is already durable, and the sweeper queues the job again from it."""
    try:
        runner.enqueue(func, **kwargs)
    except Exception:
        log.exception(
            "could not queue %s; the sweeper will queue it again", dedupe_key(spec_for(func), kwargs)
        )


class InProcessRunner:
    """Runs jobs on a few threads of this process (no Redis needed), taking queued jobs in the order of
    `QUEUES` and first come, first served within a queue, as RQ workers do."""

    def __init__(self, runtime: Runtime, workers: int = 2) -> None:
        self._runtime = runtime
        self._queue: queue.PriorityQueue[tuple[int, int, str, Any, dict[str, Any], Future[Any]]] = (
            queue.PriorityQueue()
        )
        self._pending: set[Future[Any]] = set()
        self._waiting: dict[str, str] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"bitewing-job-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        """Queue a job; the same job with the same arguments still waiting to start is not queued twice."""
        spec = spec_for(func)
        key = dedupe_key(spec, kwargs)
        with self._lock:
            if key in self._waiting:
                return self._waiting[key]
            self._counter += 1
            job_id = self._waiting[key] = f"local-{self._counter}"
            future: Future[Any] = Future()
            self._pending.add(future)
            self._queue.put((QUEUES.index(spec.queue), self._counter, key, spec.func, kwargs, future))
        return job_id

    def _work(self) -> None:
        while True:
            _, _, key, func, kwargs, future = self._queue.get()
            if func is None:
                return
            with self._lock:
                self._waiting.pop(key, None)
            future.set_running_or_notify_cancel()
            try:
                future.set_result(func(self._runtime, **kwargs))
            except Exception as exc:
                log.exception("job %s failed", key)
                future.set_exception(exc)
            with self._lock:
                self._pending.discard(future)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every queued job has finished (tests, CLI import)."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                future.exception(timeout=timeout)

    def close(self) -> None:
        """Finish every queued job, then stop the threads."""
        with self._lock:
            for _ in self._threads:
                self._counter += 1
                self._queue.put((len(QUEUES), self._counter, "", None, {}, Future()))
        for thread in self._threads:
            thread.join()


class RqRunner:
    """Queues jobs in Redis for `bitewing worker` processes."""

    def __init__(self, redis_url: str) -> None:
        from redis import Redis

        self.connection = Redis.from_url(redis_url)

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        """Queue a job unless the same job with the same arguments is already waiting (a Redis marker,
        removed when the job starts; it expires after `WAITING_MARKER_SECONDS` so that a job lost with its
        queue, but not its marker, is queued again by the sweeper eventually)."""
        from rq import Queue

        spec = spec_for(func)
        marker = WAITING_MARKER + dedupe_key(spec, kwargs)
        if not self.connection.set(marker, 1, nx=True, ex=max(spec.timeout, WAITING_MARKER_SECONDS)):
            return "already-queued"
        try:
            rq_job = Queue(spec.queue, connection=self.connection).enqueue(
                "bitewing.core.jobs.worker.run_job",
                spec.name,
                kwargs,
                job_timeout=spec.timeout,
                failure_ttl=spec.failure_ttl,
                result_ttl=3600,
            )
        except Exception:
            self.connection.delete(marker)
            raise
        return rq_job.id

    def close(self) -> None:
        self.connection.close()

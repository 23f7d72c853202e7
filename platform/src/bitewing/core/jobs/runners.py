"""Where jobs run: an RQ queue in Redis, or a thread pool inside the process (embedded default)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from bitewing.core.jobs import dedupe_key, spec_for

if TYPE_CHECKING:
    from bitewing.core.runtime import Runtime

log = logging.getLogger(__name__)

WAITING_MARKER = "bitewing:waiting:"


class JobRunner(Protocol):
    """Queues job functions for execution."""

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        """Queue `func(runtime, **kwargs)`; returns a job id."""
        ...

    def close(self) -> None:
        """Stop accepting work and finish what is queued."""
        ...


class InProcessRunner:
    """Runs jobs on a small thread pool of this process (no Redis needed)."""

    def __init__(self, runtime: Runtime, workers: int = 2) -> None:
        self._runtime = runtime
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bitewing-job")
        self._pending: set[Future[Any]] = set()
        self._waiting: dict[str, str] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        """Queue a job; the same job with the same arguments still waiting to start is not queued twice."""
        spec = spec_for(func)
        key = dedupe_key(spec, kwargs)
        with self._lock:
            if key in self._waiting:
                return self._waiting[key]
            self._counter += 1
            job_id = self._waiting[key] = f"local-{self._counter}"
            future = self._pool.submit(self._run, key, spec.func, kwargs)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return job_id

    def _run(self, name: str, func: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            self._waiting.pop(name, None)
        try:
            return func(self._runtime, **kwargs)
        except Exception:
            log.exception("job %s failed", name)
            raise

    def _done(self, future: Future[Any]) -> None:
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
        self._pool.shutdown(wait=True)


class RqRunner:
    """Queues jobs in Redis for `bitewing worker` processes."""

    def __init__(self, redis_url: str) -> None:
        from redis import Redis

        self.connection = Redis.from_url(redis_url)

    def enqueue(self, func: Callable[..., Any], **kwargs: Any) -> str:
        """Queue a job unless the same job with the same arguments is already waiting (a Redis marker,
        removed when the job starts, expires with the job's timeout)."""
        from rq import Queue

        spec = spec_for(func)
        marker = WAITING_MARKER + dedupe_key(spec, kwargs)
        if not self.connection.set(marker, 1, nx=True, ex=spec.timeout):
            return "already-queued"
        queue = Queue(spec.queue, connection=self.connection)
        rq_job = queue.enqueue(
            "bitewing.core.jobs.worker.run_job",
            spec.name,
            kwargs,
            job_timeout=spec.timeout,
            failure_ttl=spec.failure_ttl,
            result_ttl=3600,
        )
        return rq_job.id

    def close(self) -> None:
        self.connection.close()

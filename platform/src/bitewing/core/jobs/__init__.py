"""Background jobs: one `job` decorator, named queues, RQ in production and in-process on the embedded default.

A job is a plain function ``f(runtime, **kwargs)`` taking ids (never ORM objects); it must be safe to run twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUEUES = ("ingest", "archive", "deliveries", "default")
"""In the order a worker takes them: renditions before archive copies before deliveries before the rest."""


@dataclass(frozen=True)
class JobSpec:
    """A registered job function and how it is queued."""

    name: str
    func: Callable[..., Any]
    queue: str
    timeout: int
    failure_ttl: int


REGISTRY: dict[str, JobSpec] = {}


def job(
    queue: str = "default", *, timeout: int = 600, failure_ttl: int = 7 * 24 * 3600
) -> Callable[..., Any]:
    """Register a job function under ``module:qualname`` on a named queue."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {QUEUES}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{func.__module__}:{func.__qualname__}"
        REGISTRY[name] = JobSpec(name=name, func=func, queue=queue, timeout=timeout, failure_ttl=failure_ttl)
        func.job_name = name  # type: ignore[attr-defined]
        return func

    return register


def spec_for(func: Callable[..., Any]) -> JobSpec:
    """The registration of a job function; raises `KeyError` for an unregistered function."""
    return REGISTRY[func.job_name]  # type: ignore[attr-defined]


def dedupe_key(spec: JobSpec, kwargs: dict[str, Any]) -> str:
    """Identifies "the same work": a job name and its arguments (jobs take ids, so this is short)."""
    arguments = ",".join(f"{key}={kwargs[key]}" for key in sorted(kwargs))
    return f"{spec.name}({arguments})"

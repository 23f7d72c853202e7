"""The runtime: settings, database, plugins and object store, built once per process.

The web app, the worker, the DICOM listener and the CLI all build one `Runtime`; nothing is built at import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import bitewing.core.db.models  # noqa: F401  (every mapped class, so foreign keys across modules resolve)
from bitewing.core.config import Settings
from bitewing.core.db.session import Database, make_engine
from bitewing.core.jobs.runners import InProcessRunner, JobRunner, RqRunner
from bitewing.core.plugins import ObjectStore
from bitewing.core.plugins.manager import Plugins, build_plugins
from bitewing.core.storage import build_object_store


@dataclass
class Runtime:
    """Everything a Bitewing process needs, wired from settings."""

    settings: Settings
    db: Database
    plugins: Plugins

    @cached_property
    def object_store(self) -> ObjectStore:
        """The image store named by `BITEWING_STORAGE_URL`."""
        return build_object_store(self.settings, self.plugins)

    @cached_property
    def jobs(self) -> JobRunner:
        """RQ when `BITEWING_REDIS_URL` is set, otherwise a thread pool in this process."""
        if self.settings.jobs_in_process:
            return InProcessRunner(self)
        return RqRunner(self.settings.redis_url or "")

    def close(self) -> None:
        """Finish in-process jobs and release pooled connections."""
        if "jobs" in self.__dict__:
            self.jobs.close()
        self.db.dispose()


def build_runtime(settings: Settings, extra_plugins: Iterable[object] = ()) -> Runtime:
    """Wire a runtime for `settings` (plugins loaded from entry points plus `extra_plugins`)."""
    return Runtime(
        settings=settings,
        db=Database(make_engine(settings.database_url)),
        plugins=build_plugins(extra_plugins),
    )

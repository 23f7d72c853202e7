"""Running the web app under gunicorn (`bitewing serve`)."""

from __future__ import annotations

import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from bitewing.core.config import Settings
from bitewing.core.jobs.sweep import start_periodic_sweeper

SWEEP_SECONDS = 15


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from bitewing.core.app import create_app

        app = create_app(self.settings)
        if self.settings.jobs_in_process:
            start_periodic_sweeper(app.extensions["bitewing"], SWEEP_SECONDS, threading.Event())
        return app


def run_gunicorn(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve with `workers` processes (each builds its own app after fork). Without Redis, jobs run in each
    worker process, which then also sweeps for lost work and due retries."""
    _Gunicorn(
        settings,
        {"bind": f"{host}:{port}", "workers": workers, "threads": 4, "accesslog": "-", "timeout": 120},
    ).run()

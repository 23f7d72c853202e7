"""Fixtures of the end-to-end tier: a real HTTP server on a free port with the demo practice, and Chromium.

The browser is the system Chromium (``/usr/bin/chromium``); Playwright never downloads one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bitewing.core.app import create_app
from bitewing.core.config import load_settings
from bitewing.core.db import migrations
from bitewing.core.demo import seed
from bitewing.core.runtime import Runtime
from tests.e2e.live_server import LiveServer
from tests.support.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The app on a migrated SQLite instance seeded with the demo practice, served by werkzeug in a thread."""
    instance = tmp_path / "instance"
    instance.mkdir()
    database_url = f"sqlite:///{instance / 'bitewing.db'}"
    migrations.upgrade(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings({}, instance_path=instance, database_url=database_url, public_url=url)
    app = create_app(settings)
    runtime: Runtime = app.extensions["bitewing"]
    seed(runtime)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, runtime=runtime)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()

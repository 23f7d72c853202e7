"""Fixtures of the end-to-end tier: a real HTTP server on a free port with the demo practice, and Chromium.

The browser is the system Chromium (``/usr/bin/chromium``); Playwright never downloads one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


SCREENSHOTS_ENV = "BITEWING_E2E_SCREENSHOTS"
"""Set to a folder to keep the screenshots (they are never committed); default: the test's tmp folder."""


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a test writes its screenshots."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def problems() -> list[str]:
    """Uncaught script errors and console errors (CSP violations among them), other than the browser's note
    on a 4xx answer (an expired image link answers 404 on purpose)."""
    return []


@pytest.fixture
def page(browser: Any, demo_server: LiveServer, problems: list[str]) -> Iterator[Any]:
    """A fresh browser page on the demo server that records script and console errors in `problems`."""
    context = browser.new_context(
        base_url=demo_server.url, viewport={"width": 1280, "height": 860}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console error: {message.text}")

    page.on("console", on_console)
    yield page
    context.close()

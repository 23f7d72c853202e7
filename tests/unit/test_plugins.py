"""Plugin discovery through the ``bitewing`` entry point, hook validation, conflicts, and the members' pages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pluggy
import pytest
from flask import Flask

from bitewing.core.app import create_app
from bitewing.core.config import load_settings
from bitewing.core.plugins import hookimpl
from bitewing.core.plugins.manager import DISABLE_AUTOLOAD_ENV, PluginConflict, build_plugins

MEMBERS = {"admin", "portal", "orthanc", "dicomweb", "s3"}
TEST_PLUGIN = "test_plugin"


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv("BITEWING_STORAGE_URL", raising=False)


def make_app(tmp_path: Path, extra_plugins: tuple[object, ...] = (), **overrides: Any) -> Flask:
    """An app on a fresh instance folder; the environment decides plugin loading and storage."""
    settings = load_settings(instance_path=tmp_path / "instance", testing=True, **overrides)
    return create_app(settings, extra_plugins=extra_plugins)


class MisspeltHook:
    @hookimpl
    def bitewing_blueprintz(self) -> list[Any]:
        return []


class ClaimsScheme:
    """A plugin that provides an object store for one URL scheme."""

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme

    @hookimpl
    def bitewing_object_store_types(self) -> dict[str, Any]:
        def factory(url: str, options: Mapping[str, Any]) -> Any:
            raise AssertionError("never built")

        return {self.scheme: factory}


def test_entry_points_find_every_member_and_the_test_plugin() -> None:
    names = build_plugins().names()
    assert MEMBERS | {TEST_PLUGIN} <= set(names)


def test_the_test_plugin_provides_the_memory_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bitewing_test_plugin import MemoryStore

    assert "memory" in build_plugins().object_store_types()
    monkeypatch.setenv("BITEWING_STORAGE_URL", "memory://x")
    app = make_app(tmp_path)
    try:
        store = app.extensions["bitewing"].object_store
        assert isinstance(store, MemoryStore)
        assert store.put("a/b", b"bytes", "application/octet-stream").size == 5
        assert store.get("a/b") == b"bytes"
    finally:
        app.extensions["bitewing"].close()


def test_disabling_autoload_leaves_only_the_built_in_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    names = build_plugins().names()
    assert names, "the built-in plugins are always registered"
    assert all(name.startswith("bitewing.core.") for name in names), names
    assert "memory" not in build_plugins().object_store_types()
    assert "file" in build_plugins().object_store_types()


def test_without_the_entry_points_the_memory_scheme_is_a_readable_start_up_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bitewing.core.config import ConfigError

    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    monkeypatch.setenv("BITEWING_STORAGE_URL", "memory://x")
    with pytest.raises(ConfigError, match="'memory'"):
        make_app(tmp_path)


def test_a_misspelt_hook_fails_at_start() -> None:
    with pytest.raises(pluggy.PluginValidationError, match="bitewing_blueprintz"):
        build_plugins([MisspeltHook()])


def test_a_misspelt_hook_fails_the_app_at_start(tmp_path: Path) -> None:
    with pytest.raises(pluggy.PluginValidationError, match="bitewing_blueprintz"):
        make_app(tmp_path, extra_plugins=(MisspeltHook(),))


def test_two_plugins_claiming_one_storage_scheme_conflict() -> None:
    plugins = build_plugins([ClaimsScheme("twice"), ClaimsScheme("twice")], autoload=False)
    with pytest.raises(PluginConflict, match="'twice'"):
        plugins.object_store_types()


def test_a_plugin_claiming_a_built_in_scheme_conflicts() -> None:
    with pytest.raises(PluginConflict, match="'file'"):
        build_plugins([ClaimsScheme("file")], autoload=False).object_store_types()


def test_a_storage_conflict_stops_the_app_at_start(tmp_path: Path) -> None:
    with pytest.raises(PluginConflict):
        make_app(tmp_path, extra_plugins=(ClaimsScheme("twice"), ClaimsScheme("twice")))


# The pages the members contribute through `bitewing_blueprints`.


@pytest.fixture
def app(tmp_path: Path) -> Any:
    app = make_app(tmp_path)
    yield app
    app.extensions["bitewing"].close()


def test_admin_and_portal_blueprints_are_registered(app: Flask) -> None:
    assert {"admin", "portal"} <= set(app.blueprints)
    client = app.test_client()
    assert client.get("/").status_code in (200, 302)
    assert client.get("/portal").status_code in (200, 302)


def test_without_autoload_the_members_pages_are_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    app = make_app(tmp_path)
    try:
        assert not {"admin", "portal"} & set(app.blueprints)
        assert app.test_client().get("/").status_code == 404
    finally:
        app.extensions["bitewing"].close()


def test_the_console_shell_links_its_own_assets_only(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'data-api="/api/v1"' in html
    assert 'data-maybe-signed-in="no"' in html
    assert "<script" in html and "http://" not in html and "https://" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    for asset in ("/admin/static/console.css", "/admin/static/js/main.js", "/admin/static/js/api.js"):
        asset_response = client.get(asset)
        assert asset_response.status_code == 200, asset
        asset_response.close()


def test_the_console_tells_its_script_when_a_session_cookie_was_sent(app: Flask) -> None:
    client = app.test_client()
    client.set_cookie("bitewing_session", "anything")
    assert 'data-maybe-signed-in="yes"' in client.get("/").get_data(as_text=True)


def test_the_portal_page_is_honest_and_sends_no_referrer(app: Flask) -> None:
    client = app.test_client()
    for url in ("/portal", "/portal/"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"
        html = response.get_data(as_text=True)
        assert "Patient portal" in html
        assert "not open yet" in html
        assert "<form" not in html
    css = client.get("/portal/static/portal.css")
    assert css.headers["Referrer-Policy"] == "no-referrer"
    css.close()

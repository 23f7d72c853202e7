"""`create_app()`: the web application, built from settings with no work done at import time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from bitewing.core.api.auth import close_request_scope
from bitewing.core.api.errors import init_errors, problem
from bitewing.core.api.setup import init_api
from bitewing.core.config import Settings, load_settings
from bitewing.core.dicomweb.views import blp as dicomweb_blp
from bitewing.core.runtime import Runtime, build_runtime
from bitewing.core.storage.views import blp as files_blp


def create_app(
    config: Settings | Mapping[str, Any] | None = None,
    *,
    runtime: Runtime | None = None,
    extra_plugins: Iterable[object] = (),
) -> Flask:
    """Build the Bitewing web app.

    :param config: `Settings`, or overrides of the settings read from the environment (tests), or None.
    :param runtime: an already-built runtime to share (the demo shares it with its in-process jobs).
    :param extra_plugins: plugin objects registered after the entry-point plugins (tests).
    """
    if runtime is None:
        settings = config if isinstance(config, Settings) else load_settings(**dict(config or {}))
        runtime = build_runtime(settings, extra_plugins)
    settings = runtime.settings
    app = Flask("bitewing.core", instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=settings.max_json_kb * 1024,
        JSON_SORT_KEYS=False,
    )
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    app.extensions["bitewing"] = runtime
    runtime.object_store.check()
    init_api(app, settings, sorted(runtime.plugins.connector_types()))
    init_errors(app)
    app.register_blueprint(files_blp)
    app.register_blueprint(dicomweb_blp)
    for blueprint in runtime.plugins.blueprints():
        app.register_blueprint(blueprint)
    app.teardown_request(close_request_scope)
    app.before_request(_limit_json_size)
    app.after_request(_security_headers)
    app.add_url_rule("/healthz", "healthz", _healthz)
    return app


def _limit_json_size() -> Response | None:
    limit = current_app.extensions["bitewing"].settings.max_json_kb * 1024
    if request.mimetype == "application/json" and (request.content_length or 0) > limit:
        return problem(413, "Content Too Large", f"JSON bodies are limited to {limit // 1024} KiB")
    return None


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _healthz() -> Response:
    return jsonify(status="ok")

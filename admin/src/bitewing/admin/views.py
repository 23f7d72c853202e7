"""The staff console: one HTML shell at ``/``; its scripts do all the work through the REST API.

The server only sends the page and its static files. Signing in, searching, creating and signing out are calls
to ``/api/v1`` made by the browser, so the console can do nothing the API does not allow.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, Response, render_template, request

SESSION_COOKIE = "bitewing_session"
"""Name of the session cookie set by ``POST /api/v1/session/login`` (only its presence is checked here)."""

API_PREFIX = "/api/v1"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def _asset_version() -> str:
    try:
        return version("bitewing-admin")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "dev"


def create_blueprint() -> Blueprint:
    """A fresh blueprint for one app (nothing is built at import time)."""
    blueprint = Blueprint(
        "admin",
        __name__,
        static_folder="static",
        static_url_path="/admin/static",
        template_folder="templates",
    )
    asset_version = _asset_version()

    @blueprint.get("/")
    def console() -> str:
        # The cookie is HttpOnly, so the page tells its script whether one was sent; the script then asks
        # GET /api/v1/session whether it is still valid, or shows the sign-in form straight away.
        return render_template(
            "admin/console.html",
            api_prefix=API_PREFIX,
            maybe_signed_in=SESSION_COOKIE in request.cookies,
            asset_version=asset_version,
        )

    @blueprint.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    return blueprint

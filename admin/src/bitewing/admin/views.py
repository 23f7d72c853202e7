"""The staff console: one HTML shell at ``/``; its scripts do all the work through the REST API.

The server only sends the page and its static files. Signing in, searching, creating and signing out are calls
to ``/api/v1`` made by the browser, so the console can do nothing the API does not allow.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template, request

SESSION_COOKIE = "bitewing_session"
"""Name of the session cookie set by ``POST /api/v1/session/login`` (only its presence is checked here)."""

API_PREFIX = "/api/v1"

AWS_S3_ORIGIN = "https://*.amazonaws.com"
"""Where presigned AWS S3 URLs point when no other endpoint is configured."""


def content_security_policy(image_origins: tuple[str, ...] = ()) -> str:
    """The console's policy; `image_origins` are where the object store's presigned image URLs point."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(("img-src 'self' data:", *image_origins)),
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()


def image_origins(storage_url: str, s3_endpoint_url: str | None) -> tuple[str, ...]:
    """Origins of the image URLs the API hands out: none beyond the app's own for the local-folder store
    (``/files/…``), the S3 endpoint (or AWS) for an ``s3://`` store."""
    if urlsplit(storage_url).scheme != "s3":
        return ()
    if s3_endpoint_url:
        endpoint = urlsplit(s3_endpoint_url)
        return (f"{endpoint.scheme}://{endpoint.netloc}",) if endpoint.scheme and endpoint.netloc else ()
    return (AWS_S3_ORIGIN,)


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
    policies: list[str] = []

    def policy() -> str:
        # Images come from the object store through presigned URLs: allow its origin. The blueprint belongs
        # to one app, so the policy is computed once.
        if not policies:
            settings = current_app.extensions["bitewing"].settings
            origins = image_origins(settings.storage_url, settings.s3_endpoint_url)
            policies.append(content_security_policy(origins))
        return policies[0]

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
        response.headers["Content-Security-Policy"] = policy()
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    return blueprint

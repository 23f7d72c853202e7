"""The patient portal at ``/portal``.

For now it is one page saying what the portal is for; patient sign-in, X-rays, plans, appointments and
messages arrive with the portal issue. Portal pages will carry capability URLs (share links), so every
response here is sent with ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def create_blueprint() -> Blueprint:
    """A fresh blueprint for one app (nothing is built at import time)."""
    blueprint = Blueprint(
        "portal",
        __name__,
        url_prefix="/portal",
        static_folder="static",
        static_url_path="/static",
        template_folder="templates",
    )

    @blueprint.get("/", strict_slashes=False)
    def landing() -> str:
        return render_template("portal/landing.html")

    @blueprint.after_request
    def headers(response: Response) -> Response:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    return blueprint

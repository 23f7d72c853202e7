"""One error body for every error: RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from bitewing.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from bitewing.core.plugins import ObjectStoreError

STORE_RETRY_AFTER_SECONDS = 30
"""How long a client is asked to wait before re-sending what an object-store failure kept from being stored."""

DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    RateLimited: 429,
}

PROBLEM_TYPE = "about:blank"


def problem(status: int, title: str, detail: str | None = None, errors: Any = None) -> Response:
    """A problem-details response."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _with_text_keys(messages: Any) -> Any:
    """`messages` with every mapping key a string: marshmallow keys the errors of a nameless form field
    with None, which JSON cannot hold beside string keys."""
    if isinstance(messages, dict):
        return {
            ("(no name)" if key is None else str(key)): _with_text_keys(value)
            for key, value in messages.items()
        }
    if isinstance(messages, list):
        return [_with_text_keys(value) for value in messages]
    return messages


def _webargs_errors(exc: HTTPException) -> Any:
    data = getattr(exc, "data", None) or {}
    messages = _with_text_keys(data.get("messages"))
    if isinstance(messages, dict) and len(messages) == 1:
        return next(iter(messages.values()))
    return messages


def handle_http_exception(exc: HTTPException) -> Response:
    """Every werkzeug/flask-smorest HTTP error as a problem."""
    status = exc.code or 500
    errors = _webargs_errors(exc)
    detail = exc.description if not errors else "the request has invalid fields: see errors"
    data = getattr(exc, "data", None) or {}
    if data.get("message"):
        detail = data["message"]
    response = problem(status, exc.name, detail, errors)
    for name, value in exc.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bitewing"'
    return response


def handle_domain_error(exc: DomainError) -> Response:
    """A service's refusal as a problem with the status of its kind."""
    status = next((code for kind, code in DOMAIN_STATUS.items() if isinstance(exc, kind)), 400)
    titles = {
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Entity",
        401: "Unauthorized",
        403: "Forbidden",
        429: "Too Many Requests",
    }
    response = problem(status, titles.get(status, "Bad Request"), exc.message, exc.errors or None)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bitewing"'
    return response


def handle_store_unavailable(exc: ObjectStoreError) -> Response:
    """The object store failed: what the request did not get acknowledged was not stored (a 503 the client
    may retry; files it re-sends that were stored before the failure are recognised as duplicates)."""
    current_app.logger.error("object store failed: %s", exc)
    response = problem(
        503,
        "Service Unavailable",
        "the image store is unavailable; try again later (a file this answers was not stored)",
    )
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
    return response


def handle_unexpected(exc: Exception) -> Response:
    """Anything else is a 500 without internals (the traceback goes to the log)."""
    current_app.logger.exception("unhandled error", exc_info=exc)
    return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")


def init_errors(app: Flask) -> None:
    """Register the handlers on the app (covers every blueprint)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(ObjectStoreError, handle_store_unavailable)
    app.register_error_handler(Exception, handle_unexpected)

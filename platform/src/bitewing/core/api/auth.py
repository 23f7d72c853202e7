"""Authenticating API requests: bearer tokens or a session cookie (with CSRF on writes)."""

from __future__ import annotations

import hmac
from contextlib import ExitStack
from datetime import timedelta

from flask import current_app, g, request
from flask.views import MethodView

from bitewing.core.accounts import services as accounts
from bitewing.core.auth.actor import Actor
from bitewing.core.auth.secrets import secret_hash
from bitewing.core.db.session import UnitOfWork
from bitewing.core.errors import Forbidden, Unauthenticated
from bitewing.core.runtime import Runtime

SESSION_COOKIE = "bitewing_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def runtime() -> Runtime:
    """The runtime of the current app."""
    return current_app.extensions["bitewing"]


def client_ip() -> str | None:
    """The caller's address as seen by the app (a trusted proxy must set it)."""
    return request.remote_addr


def _open_uow(**kwargs: object) -> UnitOfWork:
    stack: ExitStack = g.setdefault("bitewing_stack", ExitStack())
    return stack.enter_context(runtime().db.unit_of_work(**kwargs))


def close_request_scope(_exc: BaseException | None = None) -> None:
    """Close the request's unit of work (rolling back anything uncommitted)."""
    stack = g.pop("bitewing_stack", None)
    if stack is not None:
        stack.close()


def session_timeouts() -> accounts.SessionTimeouts:
    settings = runtime().settings
    return accounts.SessionTimeouts(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def authenticate() -> tuple[UnitOfWork, Actor]:
    """Identify the caller of this request and open its tenant-scoped unit of work (once per request)."""
    if "actor" in g:
        return g.uow, g.actor
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        uow = _open_uow(lookup_key=secret_hash(secret.strip()))
        actor = accounts.resolve_api_token(uow, secret.strip(), client_ip())
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise Unauthenticated("sign in or send an API token")
        uow = _open_uow(lookup_key=secret_hash(token))
        actor, session = accounts.resolve_session(uow, token, session_timeouts(), client_ip())
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header")
        g.user_session = session
    g.uow, g.actor = uow, actor
    return uow, actor


def anonymous_uow(**kwargs: object) -> UnitOfWork:
    """A unit of work for unauthenticated endpoints (login): scoped by a lookup value, no tenant."""
    return _open_uow(**kwargs)


class TenantView(MethodView):
    """Base of every tenant API view: the request is authenticated before any argument is parsed."""

    def dispatch_request(self, *args: object, **kwargs: object) -> object:
        authenticate()
        return super().dispatch_request(*args, **kwargs)

    @property
    def uow(self) -> UnitOfWork:
        return g.uow

    @property
    def actor(self) -> Actor:
        return g.actor

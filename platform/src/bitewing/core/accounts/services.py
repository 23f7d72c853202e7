"""Staff users, login sessions and API tokens."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bitewing.core.accounts.models import ApiToken, Role, User, UserLocation, UserSession
from bitewing.core.audit import services as audit
from bitewing.core.auth.actor import Actor
from bitewing.core.auth.passwords import hash_password, password_problem, verify_password
from bitewing.core.auth.secrets import new_secret, secret_hash
from bitewing.core.db.base import utcnow
from bitewing.core.db.paging import Page, paginate
from bitewing.core.db.session import UNSCOPED, UnitOfWork
from bitewing.core.errors import Conflict, Invalid, NotFound, Unauthenticated
from bitewing.core.tenancy.services import get_location

SESSION_PREFIX = "bws"
TOKEN_PREFIX = "bwt"  # noqa: S105 (a label, not a secret)
TOUCH_INTERVAL = timedelta(seconds=60)


def normalize_email(email: str) -> str:
    """E-mail addresses are compared and stored lower-cased and trimmed."""
    return email.strip().lower()


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise Invalid(f"password {problem}", errors={"password": [problem]})


def _set_locations(uow: UnitOfWork, user: User, location_ids: Iterable[uuid.UUID]) -> None:
    wanted = {get_location(uow, location_id).id for location_id in location_ids}
    uow.session.execute(delete(UserLocation).where(UserLocation.user_id == user.id))
    for location_id in sorted(wanted):
        uow.session.add(UserLocation(tenant_id=user.tenant_id, user_id=user.id, location_id=location_id))


def _flush_user(uow: UnitOfWork, user: User) -> None:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.rollback()
        raise Conflict(f"{user.email} already has an account", errors={"email": ["already used"]}) from exc


def create_user(
    uow: UnitOfWork,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str | None = None,
    location_ids: Iterable[uuid.UUID] = (),
) -> User:
    """Add a staff member to the actor's tenant (owners only)."""
    actor.require({Role.OWNER})
    if password is not None:
        _check_password(password)
    user = User(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        email=normalize_email(email),
        full_name=full_name.strip(),
        role=Role(role),
        password_hash=hash_password(password) if password else None,
        active=True,
    )
    uow.session.add(user)
    _flush_user(uow, user)
    _set_locations(uow, user, location_ids)
    audit.record(uow, actor, "user.create", "user", user.id, details={"email": user.email, "role": user.role})
    uow.commit()
    uow.session.refresh(user)
    return user


def update_user(
    uow: UnitOfWork,
    actor: Actor,
    user_id: uuid.UUID,
    *,
    location_ids: Iterable[uuid.UUID] | None = None,
    password: str | None = None,
    **fields: object,
) -> User:
    """Change a staff member (owners only); deactivating ends their sessions."""
    actor.require({Role.OWNER})
    user = get_user(uow, user_id)
    for key, value in fields.items():
        setattr(user, key, normalize_email(str(value)) if key == "email" else value)
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
    if location_ids is not None:
        _set_locations(uow, user, location_ids)
    if fields.get("active") is False or password is not None:
        _end_sessions(uow, user.id)
    _flush_user(uow, user)
    audit.record(uow, actor, "user.update", "user", user.id, details={"fields": sorted(fields)})
    uow.commit()
    uow.session.refresh(user)
    return user


def get_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    """One staff member of the tenant; raises `NotFound`."""
    user = uow.session.scalar(select(User).where(User.id == user_id))
    if user is None:
        raise NotFound("no such user")
    return user


def list_users(
    uow: UnitOfWork, *, role: Role | None = None, q: str | None = None, page: int = 1, per_page: int = 50
) -> Page[User]:
    """The tenant's staff by name, optionally filtered by role or a name/e-mail fragment."""
    statement = select(User).order_by(User.full_name, User.id)
    if role:
        statement = statement.where(User.role == role)
    if q:
        statement = statement.where(User.full_name.ilike(f"%{q}%") | User.email.ilike(f"%{q}%"))
    return paginate(uow, statement, page, per_page)


def _end_sessions(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    now = utcnow()
    for session in uow.session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    ):
        session.ended_at = now


@dataclass(frozen=True)
class SessionTimeouts:
    """How long a session lives without activity, and at most."""

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class LoginResult:
    """A new session: the secret for the cookie and the CSRF token for writes."""

    session_token: str
    csrf_token: str
    user: User


def login(uow: UnitOfWork, email: str, password: str, ip: str | None) -> LoginResult:
    """Check credentials and open a session. `uow` must have been opened with ``login_email``."""
    email = normalize_email(email)
    user = uow.session.scalar(select(User).where(User.email == email), execution_options={UNSCOPED: True})
    if not verify_password(user.password_hash if user else None, password) or not user or not user.active:
        raise Unauthenticated("wrong e-mail or password")
    uow.set_tenant(user.tenant_id)
    token = new_secret(SESSION_PREFIX)
    now = utcnow()
    session = UserSession(
        id=uuid.uuid4(),
        tenant_id=user.tenant_id,
        user_id=user.id,
        token_hash=secret_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        ip=ip,
    )
    uow.session.add(session)
    audit.record(uow, actor_for_user(user, ip), "session.login", "user", user.id)
    uow.commit()
    return LoginResult(session_token=token, csrf_token=session.csrf_token, user=user)


def actor_for_user(user: User, ip: str | None = None) -> Actor:
    """The actor a logged-in staff user acts as."""
    return Actor(
        tenant_id=user.tenant_id,
        kind="user",
        id=user.id,
        role=user.role,
        name=user.full_name,
        location_ids=tuple(user.location_ids),
        ip=ip,
    )


def resolve_session(
    uow: UnitOfWork, token: str, timeouts: SessionTimeouts, ip: str | None
) -> tuple[Actor, UserSession]:
    """The actor behind a session cookie; ends and refuses sessions past their idle or absolute timeout.

    `uow` must have been opened with ``lookup_key=secret_hash(token)``.
    """
    session = uow.session.scalar(
        select(UserSession).where(UserSession.token_hash == secret_hash(token)),
        execution_options={UNSCOPED: True},
    )
    if session is None or session.ended_at is not None:
        raise Unauthenticated("not signed in")
    uow.set_tenant(session.tenant_id)
    now = utcnow()
    if now - session.last_seen_at > timeouts.idle or now - session.created_at > timeouts.absolute:
        session.ended_at = now
        uow.commit()
        raise Unauthenticated("your session has expired: sign in again")
    if not session.user.active:
        raise Unauthenticated("this account is disabled")
    if now - session.last_seen_at > TOUCH_INTERVAL:
        session.last_seen_at = now
        uow.commit()
    return actor_for_user(session.user, ip), session


def logout(uow: UnitOfWork, session: UserSession) -> None:
    """End a session."""
    session.ended_at = utcnow()
    uow.commit()


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: `secret` is shown once and never stored."""

    token: ApiToken
    secret: str


def create_api_token(uow: UnitOfWork, actor: Actor, *, name: str, role: Role) -> IssuedToken:
    """Issue an API token for the actor's tenant (owners and the system only)."""
    actor.require({Role.OWNER})
    secret = new_secret(TOKEN_PREFIX)
    token = ApiToken(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        name=name,
        role=Role(role),
        token_hash=secret_hash(secret),
        prefix=secret[:10],
        created_at=utcnow(),
        created_by_id=actor.id if actor.kind == "user" else None,
    )
    uow.session.add(token)
    audit.record(uow, actor, "token.create", "api_token", token.id, details={"name": name, "role": role})
    uow.commit()
    return IssuedToken(token=token, secret=secret)


def list_api_tokens(uow: UnitOfWork, *, page: int = 1, per_page: int = 50) -> Page[ApiToken]:
    """The tenant's API tokens, newest first (hashes only)."""
    return paginate(uow, select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id), page, per_page)


def revoke_api_token(uow: UnitOfWork, actor: Actor, token_id: uuid.UUID) -> ApiToken:
    """Revoke a token; it stops working at once."""
    actor.require({Role.OWNER})
    token = uow.session.scalar(select(ApiToken).where(ApiToken.id == token_id))
    if token is None:
        raise NotFound("no such API token")
    token.revoked_at = token.revoked_at or utcnow()
    audit.record(uow, actor, "token.revoke", "api_token", token.id)
    uow.commit()
    return token


def resolve_api_token(uow: UnitOfWork, secret: str, ip: str | None) -> Actor:
    """The actor behind a bearer token. `uow` must have been opened with ``lookup_key=secret_hash(secret)``."""
    token = uow.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == secret_hash(secret)),
        execution_options={UNSCOPED: True},
    )
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("invalid or revoked API token")
    uow.set_tenant(token.tenant_id)
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL:
        token.last_used_at = now
        uow.commit()
    return Actor(
        tenant_id=token.tenant_id, kind="token", id=token.id, role=token.role, name=token.name, ip=ip
    )

"""Sign-in, sessions (idle and absolute timeouts), CSRF, API tokens, roles and rate limiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from bitewing.core.accounts.models import ApiToken, Role, User, UserSession
from bitewing.core.api.auth import SESSION_COOKIE
from bitewing.core.db.base import utcnow
from bitewing.core.db.session import UNSCOPED
from tests.api.helpers import assert_problem, location_body, patient_body, user_body

PASSWORD = "a-long-enough-passw0rd"


def _staff(owner: Any, role: str = "dentist") -> dict[str, Any]:
    body = user_body(role=role, password=PASSWORD)
    created = owner.post("/api/v1/users", json=body).get_json()
    return {**created, "password": PASSWORD}


def _login(app: Flask, email: str, password: str = PASSWORD) -> tuple[Any, Any]:
    client = app.test_client()
    response = client.post("/api/v1/session/login", json={"email": email, "password": password})
    return client, response


def test_login_sets_an_httponly_session_cookie_and_returns_a_csrf_token(app: Flask, owner: Any) -> None:
    staff = _staff(owner)
    client, response = _login(app, staff["email"].upper())
    assert response.status_code == 200
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert response.get_json()["user"]["email"] == staff["email"]
    assert "password" not in response.get_json()["user"]
    me = client.get("/api/v1/session").get_json()
    assert me["user"]["id"] == staff["id"]


@pytest.mark.parametrize("password", ["wrong-password-123", ""])
def test_wrong_password_is_401_and_creates_no_session(app: Flask, owner: Any, password: str) -> None:
    staff = _staff(owner)
    client, response = _login(app, staff["email"], password)
    assert response.status_code in (401, 422)
    assert client.get_cookie(SESSION_COOKIE) is None
    assert_problem(client.get("/api/v1/session"), 401)


def test_unknown_email_is_401(app: Flask) -> None:
    _, response = _login(app, "nobody@example.com")
    assert_problem(response, 401)


def test_passwords_are_stored_as_argon2id(app: Flask, runtime: Any, owner: Any) -> None:
    staff = _staff(owner)
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        stored = uow.session.scalar(select(User.password_hash).where(User.email == staff["email"]))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_cookie_writes_need_the_csrf_token(app: Flask, owner: Any) -> None:
    staff = _staff(owner, role="front_desk")
    client, response = _login(app, staff["email"])
    csrf = response.get_json()["csrf_token"]
    assert_problem(client.post("/api/v1/patients", json=patient_body()), 403)
    assert_problem(client.post("/api/v1/patients", json=patient_body(), headers={"X-CSRF-Token": "x"}), 403)
    assert client.get("/api/v1/patients").get_json() == []
    assert (
        client.post("/api/v1/patients", json=patient_body(), headers={"X-CSRF-Token": csrf}).status_code
        == 201
    )


def _age_session(runtime: Any, tenant_id: Any, **ages: timedelta) -> None:
    with runtime.db.unit_of_work(tenant_id) as uow:
        values = {column: utcnow() - age for column, age in ages.items()}
        uow.session.execute(update(UserSession).values(**values))
        uow.commit()


@pytest.mark.parametrize(
    "ages",
    [
        {"last_seen_at": timedelta(minutes=31)},
        {"created_at": timedelta(hours=13), "last_seen_at": timedelta(minutes=1)},
    ],
    ids=["idle", "absolute"],
)
def test_sessions_expire(app: Flask, runtime: Any, owner: Any, ages: dict[str, timedelta]) -> None:
    staff = _staff(owner)
    client, _ = _login(app, staff["email"])
    assert client.get("/api/v1/session").status_code == 200
    _age_session(runtime, owner.tenant_id, **ages)
    body = assert_problem(client.get("/api/v1/session"), 401)
    assert "expired" in body["detail"]


def test_logout_ends_the_session(app: Flask, owner: Any) -> None:
    staff = _staff(owner)
    client, response = _login(app, staff["email"])
    cookie = client.get_cookie(SESSION_COOKIE).value
    assert (
        client.delete(
            "/api/v1/session", headers={"X-CSRF-Token": response.get_json()["csrf_token"]}
        ).status_code
        == 204
    )
    client.set_cookie(SESSION_COOKIE, cookie)
    assert_problem(client.get("/api/v1/session"), 401)


def test_deactivating_a_user_ends_their_sessions(app: Flask, owner: Any) -> None:
    staff = _staff(owner)
    client, _ = _login(app, staff["email"])
    owner.patch(f"/api/v1/users/{staff['id']}", json={"active": False})
    assert_problem(client.get("/api/v1/session"), 401)
    _, again = _login(app, staff["email"])
    assert_problem(again, 401)


def test_api_tokens_are_hashed_and_revocable(runtime: Any, owner: Any) -> None:
    issued = owner.post("/api/v1/tokens", json={"name": "bridge", "role": "front_desk"}).get_json()
    secret = issued["token"]
    with runtime.db.unit_of_work(owner.tenant_id) as uow:
        stored = uow.session.scalars(select(ApiToken.token_hash), execution_options={UNSCOPED: True}).all()
    assert secret not in stored and len(stored) == 2
    as_bridge = {"Authorization": f"Bearer {secret}"}
    assert owner.client.get("/api/v1/patients", headers=as_bridge).status_code == 200
    assert owner.delete(f"/api/v1/tokens/{issued['id']}").status_code == 200
    assert_problem(owner.client.get("/api/v1/patients", headers=as_bridge), 401)


@pytest.mark.parametrize("header", ["Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "bwt_forged"])
def test_bad_credentials_are_401(app: Flask, header: str) -> None:
    response = app.test_client().get("/api/v1/patients", headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/api/v1/locations", location_body),
        ("POST", "/api/v1/users", user_body),
        ("POST", "/api/v1/tokens", lambda: {"name": "x", "role": "owner"}),
        ("GET", "/api/v1/tokens", None),
        ("GET", "/api/v1/audit-events", None),
    ],
)
def test_owner_only_actions_are_403_for_staff(
    tenant_client_factory: Any, owner: Any, method: str, url: str, body: Any
) -> None:
    dentist = tenant_client_factory(role=Role.DENTIST, tenant=(owner.tenant_id, owner.slug))
    assert_problem(dentist.request(method, url, json=body() if body else None), 403)


def test_staff_can_manage_patients(tenant_client_factory: Any, owner: Any) -> None:
    front_desk = tenant_client_factory(role=Role.FRONT_DESK, tenant=(owner.tenant_id, owner.slug))
    created = front_desk.post("/api/v1/patients", json=patient_body()).get_json()
    assert (
        front_desk.patch(f"/api/v1/patients/{created['id']}", json={"phone": "555-0100"}).status_code == 200
    )


def test_login_is_rate_limited(tmp_path: Any, database_url: str) -> None:
    from bitewing.core.app import create_app
    from bitewing.core.config import load_settings

    app = create_app(
        load_settings({}, instance_path=tmp_path, database_url=database_url, login_rate_limit="3 per minute")
    )
    client = app.test_client()
    statuses = [
        client.post("/api/v1/session/login", json={"email": "a@b.co", "password": "x"}).status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
    assert_problem(client.post("/api/v1/session/login", json={"email": "a@b.co", "password": "x"}), 429)
    app.extensions["bitewing"].close()

"""Fixtures shared by every tier: apps on SQLite (embedded default) and on PostgreSQL as the app role."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from bitewing.core.accounts import services as accounts
from bitewing.core.accounts.models import Role
from bitewing.core.app import create_app
from bitewing.core.auth.actor import system_actor
from bitewing.core.config import load_settings
from bitewing.core.db import migrations
from bitewing.core.db.rls import DEFAULT_APP_ROLE
from bitewing.core.runtime import Runtime
from bitewing.core.tenancy import services as tenancy
from tests.support.databases import DEFAULT_PG_ADMIN_URL, TemporaryDatabase, temporary_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test that needs one."""
    path = tmp_path_factory.mktemp("sqlite-template") / "bitewing.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@dataclass(frozen=True)
class PostgresDatabase:
    """A migrated PostgreSQL database and the URLs of its owner and of the application role."""

    database: TemporaryDatabase
    app_url: str
    owner_url: str


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[PostgresDatabase]:
    """A PostgreSQL database migrated by its owner; the app connects as the non-owner `bitewing_app` role."""
    with temporary_database() as database:
        migrations.upgrade(database.sqlalchemy_url)
        with psycopg.connect(DEFAULT_PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"ALTER ROLE {DEFAULT_APP_ROLE} LOGIN")
        app_url = f"postgresql+psycopg://{DEFAULT_APP_ROLE}@127.0.0.1:5432/{database.name}"
        yield PostgresDatabase(database=database, app_url=app_url, owner_url=database.sqlalchemy_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each test using it runs on the embedded SQLite default and on PostgreSQL as the app role."""
    if request.param == "sqlite":
        path = tmp_path / "bitewing.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_db").app_url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The web app on a fresh instance folder and the parametrised database."""
    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        testing=True,
        login_rate_limit="1000 per minute",
    )
    app = create_app(settings)
    yield app
    app.extensions["bitewing"].close()


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    return app.extensions["bitewing"]


class TenantClient:
    """A test client that acts for one tenant with a bearer token of a given role."""

    def __init__(self, client: FlaskClient, tenant_id: uuid.UUID, slug: str, token: str) -> None:
        self.client = client
        self.tenant_id = tenant_id
        self.slug = slug
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)


def make_tenant(runtime: Runtime, name: str | None = None) -> tuple[uuid.UUID, str]:
    """Create a tenant directly through the service; returns its id and slug."""
    with runtime.db.unit_of_work() as uow:
        tenant = tenancy.create_tenant(uow, name or f"Practice {uuid.uuid4().hex[:8]}")
        return tenant.id, tenant.slug


def issue_token(runtime: Runtime, tenant_id: uuid.UUID, role: Role = Role.OWNER) -> str:
    with runtime.db.unit_of_work(tenant_id) as uow:
        return accounts.create_api_token(uow, system_actor(tenant_id), name=f"test {role}", role=role).secret


@pytest.fixture
def tenant_client_factory(app: Flask, runtime: Runtime) -> Any:
    """Make clients of new tenants: ``tenant_client_factory(role=Role.DENTIST)``."""

    def make(role: Role = Role.OWNER, tenant: tuple[uuid.UUID, str] | None = None) -> TenantClient:
        tenant_id, slug = tenant or make_tenant(runtime)
        return TenantClient(app.test_client(), tenant_id, slug, issue_token(runtime, tenant_id, role))

    return make


@pytest.fixture
def owner(tenant_client_factory: Any) -> TenantClient:
    """An owner's client of a fresh tenant."""
    return tenant_client_factory()


@pytest.fixture
def other_owner(tenant_client_factory: Any) -> TenantClient:
    """An owner's client of a second, unrelated tenant."""
    return tenant_client_factory()

"""PostgreSQL row-level security holds when the application's own tenant filter is bypassed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from bitewing.core.audit.models import AuditEvent
from bitewing.core.db.session import UNSCOPED, Database, make_engine
from bitewing.core.patients.models import Patient
from tests.api.helpers import patient_body

TENANT_TABLES = [
    "locations",
    "users",
    "user_locations",
    "user_sessions",
    "api_tokens",
    "patients",
    "audit_events",
]


@pytest.fixture
def app_conn(postgres_db: Any) -> Iterator[psycopg.Connection]:
    """A raw connection as the application role: no app-level filter at all."""
    url = postgres_db.app_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        yield conn


@pytest.fixture
def two_tenants_with_patients(tenant_client_factory: Any) -> tuple[Any, Any]:
    first, second = tenant_client_factory(), tenant_client_factory()
    for client in (first, second):
        for _ in range(2):
            assert client.post("/api/v1/patients", json=patient_body()).status_code == 201
    return first, second


def _set_tenant(conn: psycopg.Connection, tenant_id: uuid.UUID | None) -> None:
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id) if tenant_id else "",))


def test_app_role_is_not_privileged(app_conn: psycopg.Connection) -> None:
    row = app_conn.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False)
    owned = app_conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
    ).fetchone()
    assert owned == (0,)


def test_every_tenant_table_forces_row_level_security(app_conn: psycopg.Connection) -> None:
    rows = app_conn.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
        (TENANT_TABLES,),
    ).fetchall()
    assert sorted(rows) == sorted((table, True, True) for table in TENANT_TABLES)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_unset_tenant_sees_nothing(two_tenants_with_patients: Any, app_conn: psycopg.Connection) -> None:
    for table in TENANT_TABLES:
        assert app_conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table  # noqa: S608


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_tenant_sees_only_its_rows(two_tenants_with_patients: Any, app_conn: psycopg.Connection) -> None:
    first, second = two_tenants_with_patients
    _set_tenant(app_conn, first.tenant_id)
    tenants = {row[0] for row in app_conn.execute("SELECT DISTINCT tenant_id FROM patients")}
    assert tenants == {first.tenant_id}
    assert app_conn.execute("SELECT count(*) FROM patients").fetchone() == (2,)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_writing_into_another_tenant_is_refused(
    two_tenants_with_patients: Any, app_conn: psycopg.Connection
) -> None:
    first, second = two_tenants_with_patients
    _set_tenant(app_conn, first.tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute(
            "INSERT INTO patients (id, tenant_id, chart_number, given_name, family_name, given_name_key,"
            " family_name_key, sex, consent_email, consent_sms, consent_portal, consent_share_with_specialists,"
            " created_at, updated_at) VALUES (%s, %s, 'X', 'a', 'b', 'a', 'b', 'U', false, false, false, false,"
            " now(), now())",
            (uuid.uuid4(), second.tenant_id),
        )
    app_conn.rollback()
    _set_tenant(app_conn, first.tenant_id)
    updated = app_conn.execute(
        "UPDATE patients SET city = 'Hijacked' WHERE tenant_id = %s", (second.tenant_id,)
    ).rowcount
    assert updated == 0


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_audit_log_is_append_only(two_tenants_with_patients: Any, app_conn: psycopg.Connection) -> None:
    first, _ = two_tenants_with_patients
    _set_tenant(app_conn, first.tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("DELETE FROM audit_events")
    app_conn.rollback()
    _set_tenant(app_conn, first.tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("UPDATE audit_events SET action = 'nothing'")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_orm_without_app_filter_is_still_scoped(two_tenants_with_patients: Any, postgres_db: Any) -> None:
    first, _ = two_tenants_with_patients
    database = Database(make_engine(postgres_db.app_url))
    try:
        with database.unit_of_work(first.tenant_id) as uow:
            unscoped = {UNSCOPED: True}
            patients = uow.session.scalars(select(Patient), execution_options=unscoped).all()
            assert {p.tenant_id for p in patients} == {first.tenant_id}
            events = uow.session.scalars(select(AuditEvent), execution_options=unscoped).all()
            assert events and {e.tenant_id for e in events} == {first.tenant_id}
        with database.unit_of_work(None) as uow:
            assert uow.session.scalars(select(Patient), execution_options={UNSCOPED: True}).all() == []
    finally:
        database.dispose()

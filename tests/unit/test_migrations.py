"""Models and migrations agree (`alembic check`), and the migrations run down and up again."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from bitewing.core.db import migrations
from bitewing.core.db.models import metadata
from tests.support.databases import DEFAULT_PG_ADMIN_URL, temporary_database


def head(database_url: str) -> str | None:
    return ScriptDirectory.from_config(migrations.alembic_config(database_url)).get_current_head()


def table_names(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_there_is_one_head() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_models_and_migrations_agree_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bitewing.db'}"
    migrations.upgrade(url)
    assert migrations.current(url) == head(url)
    migrations.check(url)
    assert set(metadata.tables) <= table_names(url)


def test_sqlite_downgrades_to_base_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bitewing.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "base")
    assert migrations.current(url) is None
    assert table_names(url) <= {"alembic_version"}
    migrations.upgrade(url)
    migrations.check(url)


@pytest.mark.integration
def test_models_and_migrations_agree_on_postgresql_and_run_down_and_up() -> None:
    with temporary_database() as database:
        url = database.sqlalchemy_url
        migrations.upgrade(url)
        assert migrations.current(url) == head(url)
        migrations.check(url)

        command.downgrade(migrations.alembic_config(url), "base")
        assert migrations.current(url) is None
        assert table_names(url) <= {"alembic_version"}

        migrations.upgrade(url)
        assert migrations.current(url) == head(url)
        migrations.check(url)
        assert set(metadata.tables) <= table_names(url)
        assert forced_row_level_security(url) >= {"patients", "locations", "users", "audit_events"}


def forced_row_level_security(database_url: str) -> set[str]:
    """Tables with row-level security enabled and forced and a tenant policy."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname"
                    " WHERE c.relrowsecurity AND c.relforcerowsecurity AND p.policyname = 'tenant_isolation'"
                )
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


@pytest.mark.integration
def test_the_archive_backfill_reaches_every_tenant_when_a_plain_role_owns_the_database() -> None:
    """0006 marks the images stored before it as archived. Their table forces row-level security, which
    binds its owner too unless that owner is a superuser: run by a plain owner role (as operators should
    migrate), the backfill must still reach every tenant's images, and the table stays forced."""
    owner = f"bitewing_owner_{secrets.token_hex(4)}"
    with psycopg.connect(DEFAULT_PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN NOSUPERUSER CREATEROLE")
    try:
        with temporary_database() as database:
            with psycopg.connect(DEFAULT_PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"ALTER DATABASE {database.name} OWNER TO {owner}")
            url = f"postgresql+psycopg://{owner}@127.0.0.1:5432/{database.name}"
            command.upgrade(migrations.alembic_config(url), "0005")
            tenants = [_image_before_0006(url) for _ in range(2)]
            migrations.upgrade(url)
            with psycopg.connect(database.url) as superuser:  # sees every tenant's rows
                rows = superuser.execute(
                    "SELECT tenant_id, archived_at = created_at FROM images ORDER BY created_at"
                ).fetchall()
            assert rows == [(tenant, True) for tenant in tenants]
            assert "images" in forced_row_level_security(url)
    finally:
        with psycopg.connect(DEFAULT_PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {owner}")


def _image_before_0006(url: str) -> uuid.UUID:
    """A tenant with one image, inserted as the schema stood at revision 0005; the tenant's id."""
    tenant, study, series = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    values = {"tenant": tenant, "study": study, "series": series, "image": uuid.uuid4()}
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": str(tenant)}
            )
            for statement in (
                "INSERT INTO tenants (id, slug, name, region, created_at, updated_at)"
                " VALUES (:tenant, 'practice-' || left(CAST(:tenant AS text), 8), 'Practice', 'eu', now(), now())",
                "INSERT INTO studies (id, tenant_id, study_instance_uid, created_at)"
                " VALUES (:study, :tenant, '1.2.3', now())",
                "INSERT INTO series (id, tenant_id, study_id, series_instance_uid, modality, created_at)"
                " VALUES (:series, :tenant, :study, '1.2.3.4', 'IO', now())",
                "INSERT INTO images (id, tenant_id, study_id, series_id, match_status, sop_instance_uid,"
                " sop_class_uid, version, superseded, modality, image_type, teeth, rows, columns, frames,"
                " bits_stored, photometric, original_transfer_syntax, original_bytes, original_sha256,"
                " pixel_bytes, archive_key, archive_bytes, archive_sha256, archive_transfer_syntax, created_at)"
                " VALUES (:image, :tenant, :study, :series, 'unmatched', '1.2.3.4.5', '1.2.840.10008.5.1.4.1.1.1.3',"
                " 1, false, 'IO', 'intraoral', '[]', 2, 2, 1, 12, 'MONOCHROME2', '1.2.840.10008.1.2.1', 8, 'x',"
                " 8, 'k', 8, 'x', '1.2.840.10008.1.2.4.201', clock_timestamp())",
            ):
                connection.execute(text(statement), values)
    finally:
        engine.dispose()
    return tenant

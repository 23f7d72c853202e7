"""Models and migrations agree (`alembic check`), and the migrations run down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from bitewing.core.db import migrations
from bitewing.core.db.models import metadata
from tests.support.databases import temporary_database


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

"""Running the alembic migrations (only ever explicitly: `bitewing db upgrade` or the Helm migrate Job)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

MIGRATIONS_ENV = "BITEWING_MIGRATIONS_DIR"


def migrations_dir() -> Path:
    """The alembic folder: ``BITEWING_MIGRATIONS_DIR``, ``./alembic``, or the source checkout's."""
    candidates = [
        os.environ.get(MIGRATIONS_ENV),
        Path.cwd() / "alembic",
        Path(__file__).parents[5] / "alembic",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").is_file():
            return Path(candidate)
    raise FileNotFoundError(f"alembic migrations not found; set {MIGRATIONS_ENV}")


def alembic_config(database_url: str) -> Config:
    """An alembic configuration for `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree (`alembic check`)."""
    command.check(alembic_config(database_url))


def current(database_url: str) -> str | None:
    """The revision the database is at."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()

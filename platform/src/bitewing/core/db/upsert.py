"""Portable "insert unless it exists" for rows that concurrent jobs may create at the same moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflict(
    session: Session, model: type[Any], values: dict[str, Any], conflict: list[str]
) -> None:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` on PostgreSQL and SQLite."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict))

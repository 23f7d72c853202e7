"""Portable "insert unless it exists" for rows that concurrent jobs may create at the same moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_get_id(session: Session, model: type[Any], values: dict[str, Any], conflict: list[str]) -> Any:
    """The id of the row whose `conflict` columns hold `values`', inserted with `values` unless one exists.

    One ``INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING id`` on PostgreSQL and SQLite; only when the
    row was already there (or another transaction inserted it first: PostgreSQL waits for that one to
    finish) a second statement looks its id up.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict).returning(model.id)
    ).scalar()
    if inserted is not None:
        return inserted
    return session.execute(
        select(model.id).where(*(getattr(model, column) == values[column] for column in conflict))
    ).scalar_one()

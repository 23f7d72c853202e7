"""Offset pagination of ORM queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from bitewing.core.db.session import UnitOfWork

T = TypeVar("T")

MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the total count of the whole result."""

    items: list[T]
    total: int


def _bounds(page: int, per_page: int) -> tuple[int, int]:
    """(limit, offset) of a 1-based page, both clamped to what the API allows."""
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    page = max(1, min(page, MAX_PAGE))
    return per_page, (page - 1) * per_page


def _count(uow: UnitOfWork, statement: Select[Any]) -> int:
    return uow.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def paginate(uow: UnitOfWork, statement: Select[Any], page: int, per_page: int) -> Page[Any]:
    """Run `statement` for one page (1-based) and count the whole result."""
    limit, offset = _bounds(page, per_page)
    total = _count(uow, statement)
    items = list(uow.session.scalars(statement.limit(limit).offset(offset)))
    return Page(items=items, total=total)


def paginate_rows(uow: UnitOfWork, statement: Select[Any], page: int, per_page: int) -> Page[tuple[Any, ...]]:
    """One page (1-based) of a select of columns, as tuples, and the whole result's count in the same query
    (``count(*) OVER ()`` rides along on every row); only a page past the end is counted apart."""
    limit, offset = _bounds(page, per_page)
    rows = uow.session.execute(statement.add_columns(func.count().over()).limit(limit).offset(offset)).all()
    if rows:
        return Page(items=[tuple(row[:-1]) for row in rows], total=rows[0][-1])
    return Page(items=[], total=_count(uow, statement) if offset else 0)

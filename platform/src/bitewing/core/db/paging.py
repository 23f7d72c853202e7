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


def paginate(uow: UnitOfWork, statement: Select[Any], page: int, per_page: int) -> Page[Any]:
    """Run `statement` for one page (1-based) and count the whole result."""
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    page = max(1, min(page, MAX_PAGE))
    total = uow.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = list(uow.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total)

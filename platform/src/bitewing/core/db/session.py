"""Engine, unit of work and tenant scoping.

Every unit of work carries the tenant it acts for. Two independent guards keep tenants apart:
- app level: every ORM SELECT gets ``tenant_id = :current`` on each `TenantScoped` entity (relationships
  included), and a flush refuses rows of another tenant;
- PostgreSQL: ``set_config('app.tenant_id', :tid, true)`` at the start of each transaction feeds the
  row-level-security policies created by the migrations. An unset tenant sees nothing (fail closed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from bitewing.core.db.base import TenantScoped

UNSCOPED = "bitewing_unscoped"
"""Execution option: skip the app-level tenant filter (lookups by secret hash, operator CLI). RLS still applies."""


class CrossTenantWrite(Exception):
    """A flush tried to write a row of another tenant than the unit of work's."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and cross-thread use for the embedded default."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _apply_pg_settings(session: Session, connection: Any) -> None:
    if connection.dialect.name != "postgresql":
        return
    tenant_id = session.info.get("tenant_id")
    connection.execute(
        text(
            "SELECT set_config('app.tenant_id', :tenant, true), set_config('app.lookup_key', :lookup, true),"
            " set_config('app.login_email', :email, true)"
        ),
        {
            "tenant": str(tenant_id) if tenant_id else "",
            "lookup": session.info.get("lookup_key") or "",
            "email": session.info.get("login_email") or "",
        },
    )


def _scope_selects(state: ORMExecuteState) -> None:
    if not state.is_select or state.execution_options.get(UNSCOPED):
        return
    tenant_id = state.session.info.get("tenant_id")
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
            track_closure_variables=True,
        )
    )


def _check_tenant_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None and tenant_id is not None:
                obj.tenant_id = tenant_id
            if obj.tenant_id != tenant_id and not session.info.get("operator"):
                raise CrossTenantWrite(f"{type(obj).__name__} of another tenant in this unit of work")


class Database:
    """The engine and a factory of units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=True)
        event.listen(self._sessions, "after_begin", lambda s, _t, c: _apply_pg_settings(s, c))
        event.listen(self._sessions, "do_orm_execute", _scope_selects)
        event.listen(self._sessions, "before_flush", _check_tenant_on_flush)

    @contextmanager
    def unit_of_work(
        self,
        tenant_id: uuid.UUID | None = None,
        *,
        lookup_key: str | None = None,
        login_email: str | None = None,
        operator: bool = False,
    ) -> Iterator[UnitOfWork]:
        """A session scoped to `tenant_id`; rolled back on exit unless `commit()` was called."""
        session = self._sessions()
        session.info.update(
            tenant_id=tenant_id, lookup_key=lookup_key, login_email=login_email, operator=operator
        )
        uow = UnitOfWork(session)
        try:
            yield uow
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()


class UnitOfWork:
    """One business transaction. Services call `commit()`; views and repositories never do."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def tenant_id(self) -> uuid.UUID | None:
        return self.session.info.get("tenant_id")

    def set_tenant(self, tenant_id: uuid.UUID) -> None:
        """Switch to `tenant_id` (after identifying the caller); applies to the open transaction too."""
        self.session.info["tenant_id"] = tenant_id
        self.session.info["lookup_key"] = None
        self.session.info["login_email"] = None
        if self.session.in_transaction():
            _apply_pg_settings(self.session, self.session.connection())

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

"""Checks that the local PostgreSQL and Redis are up, and throwaway PostgreSQL databases.

Integration tests need these servers; when one is down the checks fail (never skip) with a message saying what
to start. The admin connection for creating databases comes from ``BITEWING_TEST_PG_ADMIN_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.support.ports import is_listening
from tests.support.process import ServiceError

PG_ADMIN_URL_ENV = "BITEWING_TEST_PG_ADMIN_URL"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def ensure_postgres(host: str = "127.0.0.1", port: int = 5432) -> None:
    """Raise `ServiceError` unless PostgreSQL accepts TCP connections on `host:port`."""
    if not is_listening(host, port, timeout=2):
        raise ServiceError(
            f"PostgreSQL is not reachable at {host}:{port}; integration tests need a running server "
            f"(start it, e.g. `service postgresql start`, or point {PG_ADMIN_URL_ENV} at one)"
        )


def ensure_redis(host: str = "127.0.0.1", port: int = 6379) -> None:
    """Raise `ServiceError` unless Redis accepts TCP connections on `host:port`."""
    if not is_listening(host, port, timeout=2):
        raise ServiceError(
            f"Redis is not reachable at {host}:{port}; integration tests need a running server "
            "(start it, e.g. `service redis-server start`)"
        )


@dataclass(frozen=True)
class TemporaryDatabase:
    """A database made for one test session or test."""

    name: str
    url: str
    """libpq URL (``postgresql://...``), for psycopg."""

    @property
    def sqlalchemy_url(self) -> str:
        """The same database for SQLAlchemy with the psycopg 3 driver (``postgresql+psycopg://...``)."""
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def temporary_database(
    admin_url: str | None = None, prefix: str = "bitewing_test"
) -> Iterator[TemporaryDatabase]:
    """Create a database with a unique name, yield it, then drop it (closing other sessions on it).

    :param admin_url: ``postgresql://`` URL of a role allowed to create databases; default from
        ``BITEWING_TEST_PG_ADMIN_URL``.
    """
    admin_url = admin_url or os.environ.get(PG_ADMIN_URL_ENV, DEFAULT_PG_ADMIN_URL)
    parts = urlsplit(admin_url)
    ensure_postgres(parts.hostname or "127.0.0.1", parts.port or 5432)
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = parts._replace(path=f"/{name}").geturl()
    try:
        yield TemporaryDatabase(name=name, url=url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

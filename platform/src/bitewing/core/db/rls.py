"""Row-level-security statements used by the migrations (PostgreSQL only).

Every tenant table gets ``ENABLE`` + ``FORCE ROW LEVEL SECURITY`` and a policy comparing ``tenant_id`` with the
transaction-local setting ``app.tenant_id``; when it is unset the comparison is NULL and no row is visible.
The application role owns nothing, is no superuser, and gets only DML privileges.
"""

from __future__ import annotations

import os

TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
LOOKUP_KEY = "NULLIF(current_setting('app.lookup_key', true), '')"
LOOKUP_TOKEN_PREDICATE = f"token_hash = {LOOKUP_KEY}"
LOOKUP_AE_TITLE_PREDICATE = f"ae_title = {LOOKUP_KEY}"
LOGIN_EMAIL_PREDICATE = "lower(email) = NULLIF(current_setting('app.login_email', true), '')"

APP_ROLE_ENV = "BITEWING_DB_APP_ROLE"
DEFAULT_APP_ROLE = "bitewing_app"


def app_role() -> str:
    """The name of the application's database role (``BITEWING_DB_APP_ROLE``, default ``bitewing_app``)."""
    role = os.environ.get(APP_ROLE_ENV, DEFAULT_APP_ROLE)
    if not role.replace("_", "").isalnum():
        raise ValueError(f"{APP_ROLE_ENV} must be a plain identifier, got {role!r}")
    return role


def create_app_role_sql(role: str) -> list[str]:
    """Create the role if missing (NOLOGIN: operators grant LOGIN and a password) and grant DML by default."""
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
        f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]


def tenant_table_sql(table: str, *, lookup_predicate: str | None = None) -> list[str]:
    """Statements that put `table` under tenant row-level security.

    `lookup_predicate` adds a SELECT-only policy for finding a row before the tenant is known (a token hash,
    a login e-mail); it reveals only the row whose secret the caller already holds.
    """
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})",
    ]
    if lookup_predicate:
        statements.append(f"CREATE POLICY lookup ON {table} FOR SELECT USING ({lookup_predicate})")
    return statements


def append_only_sql(table: str, role: str) -> list[str]:
    """Make `table` append-only for the application role."""
    return [f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}"]

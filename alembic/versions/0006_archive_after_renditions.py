"""Images are listed before their archive copy exists: `archived_at` marks when the stored copy became
the verified lossless archive (NULL while the instance is still held as received), `replaced_key` the
received bytes the archive copy replaced until they are deleted after a grace period. Uploads may name
the patient they belong to (`ingest_records.patient_id`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill_archived_at() -> None:
    """Every image stored before this revision holds its archive copy already. `images` forces row-level
    security, so on PostgreSQL the table owner lifts it for this one statement (inside the migration's
    transaction) instead of updating no row for want of a tenant setting."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE images NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE images SET archived_at = created_at")
    if postgres:
        op.execute("ALTER TABLE images FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaced_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_images_tenant_unarchived",
            ["tenant_id", "created_at"],
            unique=False,
            postgresql_where=sa.text("archived_at IS NULL"),
            sqlite_where=sa.text("archived_at IS NULL"),
        )
        batch_op.create_index(
            "ix_images_tenant_replaced",
            ["tenant_id", "replaced_at"],
            unique=False,
            postgresql_where=sa.text("replaced_key IS NOT NULL"),
            sqlite_where=sa.text("replaced_key IS NOT NULL"),
        )
    _backfill_archived_at()
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ingest_records_patient_id_patients"),
            "patients",
            ["patient_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ingest_records_patient_id_patients"), type_="foreignkey")
        batch_op.drop_column("patient_id")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_tenant_replaced")
        batch_op.drop_index("ix_images_tenant_unarchived")
        batch_op.drop_column("replaced_at")
        batch_op.drop_column("replaced_key")
        batch_op.drop_column("archived_at")

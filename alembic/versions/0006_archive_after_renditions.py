"""Images are listed before their archive copy exists: `archived_at` marks when the stored copy became
the verified lossless archive (NULL while the instance is still held as received). Uploads may name the
patient they belong to (`ingest_records.patient_id`).

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


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE images SET archived_at = created_at")
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
        batch_op.drop_column("archived_at")

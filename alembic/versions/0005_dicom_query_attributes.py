"""DICOM attributes QIDO-RS returns: accession number, study ID/time, referring physician, series and
instance numbers, patient sex as sent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:42:16.261857
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dicom_patient_sex", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("instance_number", sa.Integer(), nullable=True))

    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_number", sa.Integer(), nullable=True))

    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dicom_study_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("study_time", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("referring_physician", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_column("referring_physician")
        batch_op.drop_column("study_time")
        batch_op.drop_column("dicom_study_id")

    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_column("series_number")

    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("instance_number")
        batch_op.drop_column("dicom_patient_sex")

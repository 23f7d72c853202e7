"""A CBCT sent as one instance per slice is listed as one volume: `images.volume_slices` on the image that
stands for it, `images.volume_image_id` on its other slices; a partial index on the single-frame CBCT images
of a series for the sweeper's look for series to draw (every pass, every tenant).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("volume_slices", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("volume_image_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_images_volume_image_id_images"),
            "images",
            ["volume_image_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_images_tenant_cbct_slices",
            ["tenant_id", "series_id"],
            unique=False,
            postgresql_where=sa.text("image_type = 'cbct' AND frames = 1"),
            sqlite_where=sa.text("image_type = 'cbct' AND frames = 1"),
        )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_tenant_cbct_slices")
        batch_op.drop_constraint(batch_op.f("fk_images_volume_image_id_images"), type_="foreignkey")
        batch_op.drop_column("volume_image_id")
        batch_op.drop_column("volume_slices")

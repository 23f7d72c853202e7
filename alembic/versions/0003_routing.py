"""Routing: targets (also as sources), rules, residency overrides, deliveries; routing attributes; RLS.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:08:31.875367
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bitewing.core.db import rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_rules",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("stop", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_routing_rules_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routing_rules_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "targets",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("connector_type", sa.String(length=40), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("region", sa.Enum("CA", "US", "EU", name="region", native_enum=False), nullable=False),
        sa.Column(
            "transfer_syntax",
            sa.Enum(
                "as_received", "lossless", "uncompressed", name="transfersyntaxpreference", native_enum=False
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("poll_source", sa.Boolean(), nullable=False),
        sa.Column("source_location_id", sa.Uuid(), nullable=True),
        sa.Column("poll_cursor", sa.String(length=200), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_poll_error", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_location_id"],
            ["locations.id"],
            name=op.f("fk_targets_source_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_targets_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_targets_tenant_id_name")),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_targets_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "residency_overrides",
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("recorded_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_residency_overrides_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_residency_overrides_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_residency_overrides_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residency_overrides")),
        sa.UniqueConstraint(
            "tenant_id", "target_id", name=op.f("uq_residency_overrides_tenant_id_target_id")
        ),
    )
    with op.batch_alter_table("residency_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residency_overrides_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column(
            "role", sa.Enum("primary", "backup", name="deliveryrole", native_enum=False), nullable=False
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "sending",
                "retrying",
                "delivered",
                "dead",
                "cancelled",
                name="deliverystate",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("remote_id", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_deliveries_image_id_images"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["routing_rules.id"],
            name=op.f("fk_deliveries_rule_id_routing_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=op.f("fk_deliveries_target_id_targets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_deliveries_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("image_id", "target_id", name=op.f("uq_deliveries_image_id_target_id")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_image_id"), ["image_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_deliveries_tenant_state_next", ["tenant_id", "state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_deliveries_tenant_target_state", ["tenant_id", "target_id", "state"], unique=False
        )

    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_target_id", sa.Uuid(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        for table in ("targets", "residency_overrides", "routing_rules", "deliveries"):
            for statement in rls.tenant_table_sql(table):
                op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.drop_column("source_target_id")

    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("routed_at")
        batch_op.drop_column("attributes")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_tenant_target_state")
        batch_op.drop_index("ix_deliveries_tenant_state_next")
        batch_op.drop_index(batch_op.f("ix_deliveries_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_image_id"))

    op.drop_table("deliveries")
    with op.batch_alter_table("residency_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residency_overrides_tenant_id"))

    op.drop_table("residency_overrides")
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_targets_tenant_id"))

    op.drop_table("targets")
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routing_rules_tenant_id"))

    op.drop_table("routing_rules")

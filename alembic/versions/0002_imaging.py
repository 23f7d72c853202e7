"""Imaging: X-ray machines, ingest records, studies, series, images and renditions; row-level security.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:37:47.882659
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bitewing.core.db import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "xray_machines",
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ae_title", sa.String(length=16), nullable=False),
        sa.Column("allowed_ips", sa.JSON(), nullable=False),
        sa.Column(
            "default_image_type",
            sa.Enum(
                "intraoral",
                "bitewing",
                "periapical",
                "panoramic",
                "cephalometric",
                "cbct",
                "photo",
                "other",
                name="imagetype",
                native_enum=False,
            ),
            nullable=True,
        ),
        sa.Column("manufacturer", sa.String(length=120), nullable=True),
        sa.Column("model", sa.String(length=120), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_xray_machines_location_id_locations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_xray_machines_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xray_machines")),
        sa.UniqueConstraint("ae_title", name=op.f("uq_xray_machines_ae_title")),
    )
    with op.batch_alter_table("xray_machines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_xray_machines_location_id"), ["location_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_xray_machines_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "ingest_records",
        sa.Column(
            "source",
            sa.Enum("cstore", "stow", "upload", "import", "orthanc", name="ingestsource", native_enum=False),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "processed",
                "duplicate",
                "rejected",
                "failed",
                name="ingeststatus",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("spool_key", sa.String(length=200), nullable=True),
        sa.Column("machine_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("calling_ae", sa.String(length=16), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("filename", sa.String(length=300), nullable=True),
        sa.Column("error_reason", sa.String(length=48), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_ingest_records_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["xray_machines.id"],
            name=op.f("fk_ingest_records_machine_id_xray_machines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ingest_records_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_records")),
    )
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_records_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_ingest_records_tenant_sop_sha", ["tenant_id", "sop_instance_uid", "sha256"], unique=False
        )
        batch_op.create_index(
            "ix_ingest_records_tenant_status_received", ["tenant_id", "status", "received_at"], unique=False
        )

    op.create_table(
        "studies",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("accession_number", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_studies_patient_id_patients"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_studies_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint(
            "tenant_id", "study_instance_uid", name=op.f("uq_studies_tenant_id_study_instance_uid")
        ),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studies_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_studies_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "series",
        sa.Column("study_id", sa.Uuid(), nullable=False),
        sa.Column("series_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_series_study_id_studies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_series_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint(
            "tenant_id", "series_instance_uid", name=op.f("uq_series_tenant_id_series_instance_uid")
        ),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_study_id"), ["study_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_series_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "images",
        sa.Column("study_id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column(
            "match_status",
            sa.Enum("matched", "unmatched", "conflict", "manual", name="matchstatus", native_enum=False),
            nullable=False,
        ),
        sa.Column("match_note", sa.String(length=300), nullable=True),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=False),
        sa.Column(
            "image_type",
            sa.Enum(
                "intraoral",
                "bitewing",
                "periapical",
                "panoramic",
                "cephalometric",
                "cbct",
                "photo",
                "other",
                name="imagetype",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("teeth", sa.JSON(), nullable=False),
        sa.Column("laterality", sa.String(length=16), nullable=True),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("machine_id", sa.Uuid(), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("dicom_patient_id", sa.String(length=64), nullable=True),
        sa.Column("dicom_patient_name", sa.String(length=200), nullable=True),
        sa.Column("dicom_birth_date", sa.Date(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("bits_stored", sa.Integer(), nullable=False),
        sa.Column("photometric", sa.String(length=16), nullable=False),
        sa.Column("original_transfer_syntax", sa.String(length=64), nullable=False),
        sa.Column("original_bytes", sa.BigInteger(), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("pixel_bytes", sa.BigInteger(), nullable=False),
        sa.Column("archive_key", sa.String(length=200), nullable=False),
        sa.Column("archive_bytes", sa.BigInteger(), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_transfer_syntax", sa.String(length=64), nullable=False),
        sa.Column("ingest_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingest_id"],
            ["ingest_records.id"],
            name=op.f("fk_images_ingest_id_ingest_records"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_images_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["xray_machines.id"],
            name=op.f("fk_images_machine_id_xray_machines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_images_patient_id_patients"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_images_series_id_series"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_images_study_id_studies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_images_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint(
            "tenant_id",
            "sop_instance_uid",
            "version",
            name=op.f("uq_images_tenant_id_sop_instance_uid_version"),
        ),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_images_series_id"), ["series_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_study_id"), ["study_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_images_tenant_match_status", ["tenant_id", "match_status"], unique=False)
        batch_op.create_index(
            "ix_images_tenant_patient_acquired", ["tenant_id", "patient_id", "acquired_at"], unique=False
        )

    op.create_table(
        "renditions",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_renditions_image_id_images"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_renditions_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renditions")),
        sa.UniqueConstraint("image_id", "name", name=op.f("uq_renditions_image_id_name")),
    )
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_renditions_tenant_id"), ["tenant_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        statements: list[str] = []
        for table in ("ingest_records", "studies", "series", "images", "renditions"):
            statements += rls.tenant_table_sql(table)
        statements += rls.tenant_table_sql("xray_machines", lookup_predicate=rls.LOOKUP_AE_TITLE_PREDICATE)
        for statement in statements:
            op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("renditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renditions_tenant_id"))

    op.drop_table("renditions")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_tenant_patient_acquired")
        batch_op.drop_index("ix_images_tenant_match_status")
        batch_op.drop_index(batch_op.f("ix_images_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_images_study_id"))
        batch_op.drop_index(batch_op.f("ix_images_series_id"))

    op.drop_table("images")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_series_study_id"))

    op.drop_table("series")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_studies_patient_id"))

    op.drop_table("studies")
    with op.batch_alter_table("ingest_records", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_records_tenant_status_received")
        batch_op.drop_index("ix_ingest_records_tenant_sop_sha")
        batch_op.drop_index(batch_op.f("ix_ingest_records_tenant_id"))

    op.drop_table("ingest_records")
    with op.batch_alter_table("xray_machines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xray_machines_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_xray_machines_location_id"))

    op.drop_table("xray_machines")

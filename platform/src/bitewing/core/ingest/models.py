"""The ingest record: one received (or rejected) instance and what became of it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bitewing.core.db.base import Base, TenantScoped, UuidPrimaryKey, enum_column, utcnow


class IngestSource(enum.StrEnum):
    """Which door an instance came through."""

    CSTORE = "cstore"
    STOW = "stow"
    UPLOAD = "upload"
    IMPORT = "import"
    ORTHANC = "orthanc"


class IngestStatus(enum.StrEnum):
    """Where a received instance is in the pipeline."""

    RECEIVED = "received"
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    FAILED = "failed"


class IngestRecord(UuidPrimaryKey, TenantScoped, Base):
    """A received instance: committed only after its bytes are durable in the object store (or it was
    rejected, with the reason, and nothing was stored)."""

    __tablename__ = "ingest_records"
    __table_args__ = (
        Index("ix_ingest_records_tenant_sop_sha", "tenant_id", "sop_instance_uid", "sha256"),
        Index("ix_ingest_records_tenant_status_received", "tenant_id", "status", "received_at"),
    )

    source: Mapped[IngestSource] = mapped_column(enum_column(IngestSource))
    status: Mapped[IngestStatus] = mapped_column(enum_column(IngestStatus))
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    spool_key: Mapped[str | None] = mapped_column(String(200))
    machine_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("xray_machines.id", ondelete="SET NULL"))
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("locations.id", ondelete="SET NULL"))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    """The patient staff chose when uploading: the image goes to them whatever the DICOM header says."""
    source_target_id: Mapped[uuid.UUID | None] = mapped_column(index=False)
    calling_ae: Mapped[str | None] = mapped_column(String(16))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(300))
    error_reason: Mapped[str | None] = mapped_column(String(48))
    error_message: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    image_id: Mapped[uuid.UUID | None] = mapped_column(index=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]

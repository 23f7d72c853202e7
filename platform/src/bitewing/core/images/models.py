"""Study, series, image and rendition tables: metadata and object keys only."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bitewing.core.db.base import Base, TenantScoped, UuidPrimaryKey, enum_column, utcnow
from bitewing.core.images.types import ImageType

UID = String(64)


class MatchStatus(enum.StrEnum):
    """How an image was tied to a patient."""

    MATCHED = "matched"
    UNMATCHED = "unmatched"
    CONFLICT = "conflict"
    MANUAL = "manual"


class Study(UuidPrimaryKey, TenantScoped, Base):
    """A DICOM study of the tenant (a visit's imaging)."""

    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("tenant_id", "study_instance_uid"),)

    study_instance_uid: Mapped[str] = mapped_column(UID)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL"), index=True
    )
    study_date: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(200))
    accession_number: Mapped[str | None] = mapped_column(String(32))
    dicom_study_id: Mapped[str | None] = mapped_column(String(16))
    study_time: Mapped[str | None] = mapped_column(String(32))
    referring_physician: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Series(UuidPrimaryKey, TenantScoped, Base):
    """A DICOM series within a study."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("tenant_id", "series_instance_uid"),)

    study_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    series_instance_uid: Mapped[str] = mapped_column(UID)
    modality: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(200))
    series_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Image(UuidPrimaryKey, TenantScoped, Base):
    """One stored instance (one version of a SOP Instance UID) and where its bytes live."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sop_instance_uid", "version"),
        Index("ix_images_tenant_patient_acquired", "tenant_id", "patient_id", "acquired_at"),
        Index("ix_images_tenant_match_status", "tenant_id", "match_status"),
        Index(
            "ix_images_tenant_unarchived",
            "tenant_id",
            "created_at",
            postgresql_where=text("archived_at IS NULL"),
            sqlite_where=text("archived_at IS NULL"),
        ),
        Index(
            "ix_images_tenant_cbct_slices",
            "tenant_id",
            "series_id",
            postgresql_where=text("image_type = 'cbct' AND frames = 1"),
            sqlite_where=text("image_type = 'cbct' AND frames = 1"),
        ),
        Index(
            "ix_images_tenant_replaced",
            "tenant_id",
            "replaced_at",
            postgresql_where=text("replaced_key IS NOT NULL"),
            sqlite_where=text("replaced_key IS NOT NULL"),
        ),
    )

    study_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    match_status: Mapped[MatchStatus] = mapped_column(enum_column(MatchStatus))
    match_note: Mapped[str | None] = mapped_column(String(300))
    sop_instance_uid: Mapped[str] = mapped_column(UID)
    sop_class_uid: Mapped[str] = mapped_column(UID)
    version: Mapped[int] = mapped_column(Integer, default=1)
    superseded: Mapped[bool] = mapped_column(default=False)
    modality: Mapped[str] = mapped_column(String(16))
    image_type: Mapped[ImageType] = mapped_column(enum_column(ImageType))
    teeth: Mapped[list[Any]] = mapped_column(JSON, default=list)
    laterality: Mapped[str | None] = mapped_column(String(16))
    acquired_at: Mapped[datetime | None]
    machine_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("xray_machines.id", ondelete="SET NULL"))
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("locations.id", ondelete="SET NULL"))
    dicom_patient_id: Mapped[str | None] = mapped_column(String(64))
    dicom_patient_name: Mapped[str | None] = mapped_column(String(200))
    dicom_birth_date: Mapped[date | None] = mapped_column(Date)
    dicom_patient_sex: Mapped[str | None] = mapped_column(String(16))
    instance_number: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer, default=1)
    bits_stored: Mapped[int] = mapped_column(Integer)
    photometric: Mapped[str] = mapped_column(String(16))
    original_transfer_syntax: Mapped[str] = mapped_column(UID)
    original_bytes: Mapped[int] = mapped_column(BigInteger)
    original_sha256: Mapped[str] = mapped_column(String(64))
    pixel_bytes: Mapped[int] = mapped_column(BigInteger)
    archive_key: Mapped[str] = mapped_column(String(200))
    """The stored DICOM: the instance as received until `archived_at`, then its lossless archive copy."""
    archive_bytes: Mapped[int] = mapped_column(BigInteger)
    archive_sha256: Mapped[str] = mapped_column(String(64))
    archive_transfer_syntax: Mapped[str] = mapped_column(UID)
    ingest_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ingest_records.id", ondelete="SET NULL"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    archived_at: Mapped[datetime | None]
    replaced_key: Mapped[str | None] = mapped_column(String(200))
    """The received bytes the archive copy replaced, deleted by the sweeper once `replaced_at` is older than
    the longest-lived URL (a download or retrieval begun before the swap still finds them)."""
    replaced_at: Mapped[datetime | None]
    routed_at: Mapped[datetime | None]
    volume_slices: Mapped[int | None] = mapped_column(Integer)
    """Set on the image that stands for a CBCT sent slice by slice: how many slices its views show (0 on slices
    of a series that make no volume)."""
    volume_image_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    """A slice of such a volume: the image that stands for it (lists show that one only)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    renditions: Mapped[list[Rendition]] = relationship(
        back_populates="image", lazy="selectin", order_by="Rendition.width", cascade="all, delete-orphan"
    )


class Rendition(UuidPrimaryKey, TenantScoped, Base):
    """A browser-ready picture of an image (thumbnail, preview, full) in the object store."""

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("image_id", "name"),)

    image_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    quality: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    image: Mapped[Image] = relationship(back_populates="renditions")

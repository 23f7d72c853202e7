"""Patient table."""

from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bitewing.core.db.base import Base, TenantScoped, Timestamps, UuidPrimaryKey, enum_column


class Sex(enum.StrEnum):
    """Administrative sex as DICOM records it."""

    FEMALE = "F"
    MALE = "M"
    OTHER = "O"
    UNKNOWN = "U"


class Patient(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """A patient of the practice group; the chart number is the DICOM Patient ID."""

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("tenant_id", "chart_number"),
        Index("ix_patients_tenant_family_given", "tenant_id", "family_name_key", "given_name_key"),
        Index("ix_patients_tenant_birth_date", "tenant_id", "birth_date"),
    )

    chart_number: Mapped[str] = mapped_column(String(64))
    given_name: Mapped[str] = mapped_column(String(120))
    family_name: Mapped[str] = mapped_column(String(120))
    given_name_key: Mapped[str] = mapped_column(String(120))
    family_name_key: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[Sex] = mapped_column(enum_column(Sex), default=Sex.UNKNOWN)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    address_line: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    primary_location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL"), index=True
    )
    dentist_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_portal: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_share_with_specialists: Mapped[bool] = mapped_column(Boolean, default=False)

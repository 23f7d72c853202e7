"""Tenant and location tables."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bitewing.core.db.base import Base, TenantScoped, Timestamps, UuidPrimaryKey, enum_column


class Region(enum.StrEnum):
    """Where a tenant's data must live."""

    CA = "CA"
    US = "US"
    EU = "EU"


class StoragePreference(enum.StrEnum):
    """Where a location prefers its images archived (used by routing rules)."""

    CLOUD = "cloud"
    ON_PREMISE = "on_premise"


class Tenant(UuidPrimaryKey, Timestamps, Base):
    """A practice group. Not row-level-secured itself: it holds no patient data, only a name and region."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[Region] = mapped_column(enum_column(Region))
    rendition_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Location(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """A practice location of a tenant."""

    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    address_line: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    region_code: Mapped[str | None] = mapped_column(String(64))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(40))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    storage_preference: Mapped[StoragePreference] = mapped_column(
        enum_column(StoragePreference), default=StoragePreference.CLOUD
    )

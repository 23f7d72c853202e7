"""X-ray machine table."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bitewing.core.db.base import Base, TenantScoped, Timestamps, UuidPrimaryKey, enum_column
from bitewing.core.images.types import ImageType


class XrayMachine(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """A device that sends DICOM, known by its calling AE title (unique across tenants: it names the tenant)."""

    __tablename__ = "xray_machines"

    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    ae_title: Mapped[str] = mapped_column(String(16), unique=True)
    allowed_ips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    default_image_type: Mapped[ImageType | None] = mapped_column(enum_column(ImageType))
    manufacturer: Mapped[str | None] = mapped_column(String(120))
    model: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)

"""Target, routing-rule and residency-override tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bitewing.core.db.base import Base, TenantScoped, Timestamps, UuidPrimaryKey, enum_column, utcnow
from bitewing.core.plugins.connectors import TransferSyntaxPreference
from bitewing.core.tenancy.models import Region


class Target(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """A configured VNA or archive of the tenant; secrets are stored encrypted, apart from `config`."""

    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    connector_type: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[str | None] = mapped_column(Text)
    region: Mapped[Region] = mapped_column(enum_column(Region))
    transfer_syntax: Mapped[TransferSyntaxPreference] = mapped_column(enum_column(TransferSyntaxPreference))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    poll_source: Mapped[bool] = mapped_column(Boolean, default=False)
    source_location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    poll_cursor: Mapped[str | None] = mapped_column(String(200))
    last_polled_at: Mapped[datetime | None]
    last_poll_error: Mapped[str | None] = mapped_column(String(500))


class ResidencyOverride(UuidPrimaryKey, TenantScoped, Base):
    """The owner's recorded decision to send data to a target outside the tenant's region."""

    __tablename__ = "residency_overrides"
    __table_args__ = (UniqueConstraint("tenant_id", "target_id"),)

    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingRule(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """An ordered rule: when its conditions hold, send to its targets; then stop or continue."""

    __tablename__ = "routing_rules"

    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    stop: Mapped[bool] = mapped_column(Boolean, default=True)

"""The delivery table: one row per (image, target), the source of truth for sending."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bitewing.core.db.base import Base, TenantScoped, Timestamps, UuidPrimaryKey, enum_column


class DeliveryState(enum.StrEnum):
    """Where a delivery is."""

    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING)


class DeliveryRole(enum.StrEnum):
    """Why a target gets the image."""

    PRIMARY = "primary"
    BACKUP = "backup"


class Delivery(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """Sending one image to one target, with its attempts and last error."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("image_id", "target_id"),
        Index("ix_deliveries_tenant_state_next", "tenant_id", "state", "next_attempt_at"),
        Index("ix_deliveries_tenant_target_state", "tenant_id", "target_id", "state"),
    )

    image_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("routing_rules.id", ondelete="SET NULL"))
    role: Mapped[DeliveryRole] = mapped_column(enum_column(DeliveryRole))
    state: Mapped[DeliveryState] = mapped_column(enum_column(DeliveryState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    remote_id: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]

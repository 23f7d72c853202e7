"""User, session and API-token tables."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bitewing.core.db.base import Base, TenantScoped, Timestamps, UuidPrimaryKey, enum_column
from bitewing.core.tenancy.models import Location


class Role(enum.StrEnum):
    """What a staff member may do."""

    OWNER = "owner"
    DENTIST = "dentist"
    HYGIENIST = "hygienist"
    FRONT_DESK = "front_desk"


class UserLocation(TenantScoped, Base):
    """Limits a user to a location; a user with none may work at every location of the tenant."""

    __tablename__ = "user_locations"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )


class User(UuidPrimaryKey, Timestamps, TenantScoped, Base):
    """A staff member. E-mail addresses are unique across tenants: they are the login name."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locations: Mapped[list[Location]] = relationship(
        secondary="user_locations", lazy="selectin", viewonly=True, order_by=Location.name
    )

    @property
    def location_ids(self) -> list[uuid.UUID]:
        """Locations this user is limited to; empty means all of the tenant's locations."""
        return [loc.id for loc in self.locations]


class UserSession(UuidPrimaryKey, TenantScoped, Base):
    """A server-side login session; the browser holds only a random token whose hash is stored here."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user: Mapped[User] = relationship()


class ApiToken(UuidPrimaryKey, TenantScoped, Base):
    """A bearer token for the REST API and DICOMweb, stored as a SHA-256 hash."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

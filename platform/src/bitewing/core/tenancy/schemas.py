"""API schemas of locations."""

from __future__ import annotations

from zoneinfo import available_timezones

from marshmallow import Schema, fields, validate

from bitewing.core.api.fields import text
from bitewing.core.tenancy.models import StoragePreference

TIME_ZONES = sorted(available_timezones())


class LocationSchema(Schema):
    """A practice location."""

    id = fields.UUID(dump_only=True)
    name = text(required=True, min_length=1, max_length=200)
    address_line = text(allow_none=True, max_length=300)
    city = text(allow_none=True, max_length=120)
    region_code = text(allow_none=True, max_length=64)
    postal_code = text(allow_none=True, max_length=32)
    country = fields.String(
        allow_none=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166 alpha-2 code")
    )
    phone = text(allow_none=True, max_length=40)
    time_zone = fields.String(
        load_default="UTC",
        validate=validate.OneOf(TIME_ZONES, error="unknown IANA time zone, e.g. America/Toronto"),
        metadata={"description": "IANA time zone name"},
    )
    storage_preference = fields.Enum(StoragePreference, by_value=True, load_default=StoragePreference.CLOUD)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class LocationQuerySchema(Schema):
    """Filters of the location list."""

    name = text(max_length=200, metadata={"description": "part of the name"})

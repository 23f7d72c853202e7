"""API schemas of locations."""

from __future__ import annotations

from zoneinfo import available_timezones

from marshmallow import Schema, ValidationError, fields, validate

from bitewing.core.tenancy.models import StoragePreference


def validate_time_zone(value: str) -> None:
    """Accept only IANA time zone names (``America/Toronto``)."""
    if value not in available_timezones():
        raise ValidationError("unknown IANA time zone, e.g. America/Toronto")


class LocationSchema(Schema):
    """A practice location."""

    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    address_line = fields.String(allow_none=True, validate=validate.Length(max=300))
    city = fields.String(allow_none=True, validate=validate.Length(max=120))
    region_code = fields.String(allow_none=True, validate=validate.Length(max=64))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    country = fields.String(
        allow_none=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166 alpha-2 code")
    )
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    time_zone = fields.String(load_default="UTC", validate=validate_time_zone)
    storage_preference = fields.Enum(StoragePreference, by_value=True, load_default=StoragePreference.CLOUD)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class LocationQuerySchema(Schema):
    """Filters of the location list."""

    name = fields.String(metadata={"description": "part of the name"})

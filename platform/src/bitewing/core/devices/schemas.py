"""API schemas of X-ray machines."""

from __future__ import annotations

from marshmallow import Schema, fields

from bitewing.core.api.fields import text
from bitewing.core.images.types import ImageType


class MachineSchema(Schema):
    """An X-ray machine: its calling AE title identifies the tenant and location of what it sends."""

    id = fields.UUID(dump_only=True)
    location_id = fields.UUID(required=True)
    name = text(required=True, min_length=1, max_length=200)
    ae_title = text(
        required=True,
        min_length=1,
        max_length=16,
        extra_forbidden="\\\\",
        error="must be printable text without a backslash",
        metadata={"description": "calling AE title the machine sends with; unique across Bitewing"},
    )
    allowed_ips = fields.List(
        text(max_length=64), load_default=list, metadata={"description": "optional source IPs / networks"}
    )
    default_image_type = fields.Enum(ImageType, by_value=True, allow_none=True, load_default=None)
    manufacturer = text(allow_none=True, max_length=120)
    model = text(allow_none=True, max_length=120)
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)


class MachineQuerySchema(Schema):
    """Filters of the machine list."""

    location_id = fields.UUID()

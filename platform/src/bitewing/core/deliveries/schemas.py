"""API schemas of deliveries."""

from __future__ import annotations

from marshmallow import Schema, fields

from bitewing.core.deliveries.models import DeliveryRole, DeliveryState


class DeliverySchema(Schema):
    """Sending one image to one target."""

    id = fields.UUID()
    image_id = fields.UUID()
    target_id = fields.UUID()
    rule_id = fields.UUID(allow_none=True)
    role = fields.Enum(DeliveryRole, by_value=True)
    state = fields.Enum(DeliveryState, by_value=True)
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    remote_id = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DeliveryQuerySchema(Schema):
    """Filters of the delivery list."""

    state = fields.Enum(DeliveryState, by_value=True)
    target_id = fields.UUID()
    image_id = fields.UUID()


class BacklogSchema(Schema):
    """One target's deliveries by state."""

    target_id = fields.UUID()
    target_name = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    oldest_open_at = fields.DateTime(allow_none=True)

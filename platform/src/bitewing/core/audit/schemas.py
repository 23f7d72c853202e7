"""API schemas of the audit log."""

from __future__ import annotations

from marshmallow import Schema, fields

from bitewing.core.api.fields import text


class AuditEventSchema(Schema):
    """One audit event."""

    id = fields.UUID()
    at = fields.DateTime()
    actor_type = fields.String()
    actor_id = fields.UUID(allow_none=True)
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.UUID(allow_none=True)
    patient_id = fields.UUID(allow_none=True)
    ip = fields.String(allow_none=True)
    details = fields.Dict()


class AuditQuerySchema(Schema):
    """Filters of the audit log."""

    patient_id = fields.UUID()
    action = text(max_length=64)
    since = fields.AwareDateTime()

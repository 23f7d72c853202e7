"""API schemas of targets, routing rules and dry runs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bitewing.core.api.fields import text
from bitewing.core.deliveries.models import DeliveryRole
from bitewing.core.images.attributes import ROUTING_KEYWORDS
from bitewing.core.images.types import ImageType
from bitewing.core.plugins.connectors import TransferSyntaxPreference
from bitewing.core.tenancy.models import Region, StoragePreference


class ConnectorTypeSchema(Schema):
    """A kind of target a plugin provides."""

    name = fields.String()
    title = fields.String()
    secret_fields = fields.List(fields.String())
    can_poll = fields.Boolean()
    config_fields = fields.Dict(metadata={"description": "field name → JSON schema of the configuration"})


class TargetSchema(Schema):
    """A VNA or archive. Secret configuration fields are write-only."""

    id = fields.UUID(dump_only=True)
    name = text(required=True, min_length=1, max_length=120)
    connector_type = text(required=True, min_length=1, max_length=40)
    config = fields.Dict(required=True, metadata={"description": "validated by the connector type's schema"})
    region = fields.Enum(
        Region, by_value=True, required=True, metadata={"description": "where the target stores data"}
    )
    transfer_syntax = fields.Enum(
        TransferSyntaxPreference, by_value=True, load_default=TransferSyntaxPreference.LOSSLESS
    )
    active = fields.Boolean(load_default=True)
    poll_source = fields.Boolean(
        load_default=False, metadata={"description": "also pull new instances from it (types that can poll)"}
    )
    source_location_id = fields.UUID(
        allow_none=True, metadata={"description": "location of pulled instances"}
    )
    last_polled_at = fields.DateTime(dump_only=True, allow_none=True)
    last_poll_error = fields.String(dump_only=True, allow_none=True)
    residency_override = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class TargetUpdateSchema(TargetSchema):
    """Changes to a target; `config` is merged (omit a secret to keep it)."""

    connector_type = fields.String(dump_only=True)


class CheckResultSchema(Schema):
    """The outcome of "test connection"."""

    ok = fields.Boolean()
    steps = fields.List(fields.String())


class ResidencyOverrideSchema(Schema):
    """The owner's reason for sending data outside the tenant's region."""

    reason = text(required=True, min_length=10, max_length=500)


class AttributeMatchSchema(Schema):
    """A DICOM attribute compared with a shell-style pattern, case-insensitively."""

    keyword = fields.String(required=True, validate=validate.OneOf(ROUTING_KEYWORDS))
    pattern = text(required=True, min_length=1, max_length=128, metadata={"description": "e.g. Planmeca*"})


class ConditionsSchema(Schema):
    """When a rule applies; all given conditions must hold, any value within a list matches."""

    location_ids = fields.List(fields.UUID())
    machine_ae_titles = fields.List(text(min_length=1, max_length=16))
    image_types = fields.List(fields.String(validate=validate.OneOf([t.value for t in ImageType])))
    modalities = fields.List(text(min_length=1, max_length=16))
    patient_primary_location_ids = fields.List(fields.UUID())
    storage_preferences = fields.List(
        fields.String(validate=validate.OneOf([p.value for p in StoragePreference]))
    )
    dicom = fields.List(
        fields.Nested(AttributeMatchSchema),
        metadata={"description": "DICOM attribute matches; all must hold"},
    )


class ActionSchema(Schema):
    """Send to a target as primary or backup."""

    target_id = fields.UUID(required=True)
    role = fields.String(
        validate=validate.OneOf([r.value for r in DeliveryRole]), load_default=DeliveryRole.PRIMARY.value
    )


class RuleSchema(Schema):
    """An ordered routing rule."""

    id = fields.UUID(dump_only=True)
    name = text(required=True, min_length=1, max_length=120)
    position = fields.Integer(
        validate=validate.Range(min=0, max=100_000), metadata={"description": "lower first"}
    )
    enabled = fields.Boolean(load_default=True)
    is_default = fields.Boolean(
        load_default=False, metadata={"description": "applies when no other rule matched"}
    )
    conditions = fields.Nested(ConditionsSchema, load_default=dict)
    actions = fields.List(fields.Nested(ActionSchema), required=True, validate=validate.Length(min=1, max=20))
    stop = fields.Boolean(
        load_default=True, metadata={"description": "stop evaluating later rules when this matches"}
    )
    created_at = fields.DateTime(dump_only=True)


class DryRunSchema(Schema):
    """Which images to evaluate: one image, or the tenant's latest N."""

    image_id = fields.UUID()
    last = fields.Integer(validate=validate.Range(min=1, max=500))


class RouteSchema(Schema):
    """One decision of a dry run."""

    target_id = fields.UUID()
    target_name = fields.String()
    role = fields.String()
    rule_id = fields.UUID()
    rule_name = fields.String()
    refused = fields.String(allow_none=True, metadata={"description": "why the route would be refused"})


class DryRunResultSchema(Schema):
    """Where an image would go."""

    image_id = fields.UUID()
    image_type = fields.String()
    routes = fields.List(fields.Nested(RouteSchema))

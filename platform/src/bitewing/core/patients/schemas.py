"""API schemas of patients."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bitewing.core.api.fields import text
from bitewing.core.patients.models import Sex


class PatientSchema(Schema):
    """A patient: demographics, contact details, consents, primary location and assigned dentist."""

    id = fields.UUID(dump_only=True)
    chart_number = text(
        required=True,
        min_length=1,
        max_length=64,
        extra_forbidden="\\\\^=",
        error="must be printable text without a backslash, ^ or =",
        metadata={"description": "the practice's chart number (DICOM Patient ID); no backslash, ^ or ="},
    )
    given_name = text(required=True, min_length=1, max_length=120)
    family_name = text(required=True, min_length=1, max_length=120)
    birth_date = fields.Date(allow_none=True)
    sex = fields.Enum(Sex, by_value=True, load_default=Sex.UNKNOWN)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = text(allow_none=True, max_length=40)
    address_line = text(allow_none=True, max_length=300)
    city = text(allow_none=True, max_length=120)
    postal_code = text(allow_none=True, max_length=32)
    primary_location_id = fields.UUID(allow_none=True)
    dentist_id = fields.UUID(allow_none=True)
    consent_email = fields.Boolean(load_default=False)
    consent_sms = fields.Boolean(load_default=False)
    consent_portal = fields.Boolean(load_default=False)
    consent_share_with_specialists = fields.Boolean(load_default=False)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class PatientQuerySchema(Schema):
    """Search filters of the patient list."""

    q = text(max_length=200, metadata={"description": "name or chart-number words"})
    chart_number = text(max_length=64)
    birth_date = fields.Date()
    primary_location_id = fields.UUID()
    dentist_id = fields.UUID()

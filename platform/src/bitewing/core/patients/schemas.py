"""API schemas of patients."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bitewing.core.patients.models import Sex

_NAME = validate.Length(min=1, max=120)


class PatientSchema(Schema):
    """A patient: demographics, contact details, consents, primary location and assigned dentist."""

    id = fields.UUID(dump_only=True)
    chart_number = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=64),
            validate.Regexp(r"^[^\\^=]+$", error="must not contain a backslash, ^ or ="),
        ],
        metadata={"description": "the practice's chart number; DICOM Patient ID"},
    )
    given_name = fields.String(required=True, validate=_NAME)
    family_name = fields.String(required=True, validate=_NAME)
    birth_date = fields.Date(allow_none=True)
    sex = fields.Enum(Sex, by_value=True, load_default=Sex.UNKNOWN)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    address_line = fields.String(allow_none=True, validate=validate.Length(max=300))
    city = fields.String(allow_none=True, validate=validate.Length(max=120))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=32))
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

    q = fields.String(
        validate=validate.Length(max=200), metadata={"description": "name or chart-number words"}
    )
    chart_number = fields.String(validate=validate.Length(max=64))
    birth_date = fields.Date()
    primary_location_id = fields.UUID()
    dentist_id = fields.UUID()

"""API schemas of ingest records and uploads."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from bitewing.core.ingest.models import IngestSource, IngestStatus


class IngestRecordSchema(Schema):
    """A received or rejected instance and what became of it."""

    id = fields.UUID()
    source = fields.Enum(IngestSource, by_value=True)
    status = fields.Enum(IngestStatus, by_value=True)
    sop_instance_uid = fields.String(allow_none=True)
    size = fields.Integer()
    sha256 = fields.String()
    machine_id = fields.UUID(allow_none=True)
    location_id = fields.UUID(allow_none=True)
    calling_ae = fields.String(allow_none=True)
    filename = fields.String(allow_none=True)
    error_reason = fields.String(allow_none=True, metadata={"description": "machine-readable reason code"})
    error_message = fields.String(allow_none=True)
    attempts = fields.Integer(metadata={"description": "processing attempts so far"})
    image_id = fields.UUID(
        allow_none=True, metadata={"description": "the image made from it, once processed"}
    )
    received_at = fields.DateTime()
    processed_at = fields.DateTime(allow_none=True)


class IngestQuerySchema(Schema):
    """Filters of the ingest list (``status=rejected`` lists the ingest errors)."""

    status = fields.Enum(IngestStatus, by_value=True)
    source = fields.Enum(IngestSource, by_value=True)
    since = fields.AwareDateTime()


class UploadSchema(Schema):
    """One or more DICOM files (``multipart/form-data``, field ``files``)."""

    files = fields.List(Upload(), required=True)


class UploadFormSchema(Schema):
    """Where the uploaded images were taken."""

    location_id = fields.UUID(metadata={"description": "location the images belong to"})
    patient_id = fields.UUID(
        metadata={
            "description": "patient the images belong to, whatever their DICOM header says (else they are "
            "matched by chart number, then name and birth date)"
        }
    )


class ReceiptSchema(Schema):
    """The outcome of one uploaded file."""

    filename = fields.String()
    status = fields.Enum(IngestStatus, by_value=True)
    ingest_id = fields.UUID(allow_none=True)
    sop_instance_uid = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True)

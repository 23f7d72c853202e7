"""API schemas of images."""

from __future__ import annotations

from marshmallow import Schema, fields

from bitewing.core.images.models import MatchStatus
from bitewing.core.images.types import ImageType


class RenditionLinkSchema(Schema):
    """A rendition and its short-lived URL."""

    name = fields.String()
    url = fields.String(metadata={"description": "expires after a few minutes; fetch a new one from the API"})
    width = fields.Integer()
    height = fields.Integer()
    bytes = fields.Integer()
    content_type = fields.String()


class ImageSummarySchema(Schema):
    """An image in a list, with its thumbnail URL."""

    id = fields.UUID()
    sop_instance_uid = fields.String(metadata={"description": "the DICOM SOP Instance UID"})
    patient_id = fields.UUID(allow_none=True)
    match_status = fields.Enum(MatchStatus, by_value=True)
    match_note = fields.String(allow_none=True)
    image_type = fields.Enum(ImageType, by_value=True)
    modality = fields.String()
    teeth = fields.List(fields.String())
    laterality = fields.String(allow_none=True)
    acquired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    rows = fields.Integer()
    columns = fields.Integer()
    frames = fields.Integer()
    version = fields.Integer()
    dicom_patient_id = fields.String(allow_none=True, metadata={"description": "as the machine sent it"})
    dicom_patient_name = fields.String(allow_none=True)
    dicom_birth_date = fields.Date(allow_none=True)
    volume_slices = fields.Integer(
        allow_none=True,
        metadata={
            "description": "a CBCT sent slice by slice: the slices its thumbnail and preview show (0: its "
            "series' slices make no volume and are listed one by one)"
        },
    )
    renditions = fields.List(fields.Nested(RenditionLinkSchema))


class ImageSchema(ImageSummarySchema):
    """One image: metadata, compression figures, URLs of every rendition and of the original."""

    study_instance_uid = fields.String(metadata={"description": "the DICOM Study Instance UID"})
    series_instance_uid = fields.String(metadata={"description": "the DICOM Series Instance UID"})
    study_id = fields.UUID()
    series_id = fields.UUID()
    machine_id = fields.UUID(allow_none=True)
    location_id = fields.UUID(allow_none=True)
    bits_stored = fields.Integer()
    photometric = fields.String()
    original_transfer_syntax = fields.String()
    original_bytes = fields.Integer()
    pixel_bytes = fields.Integer()
    archive_bytes = fields.Integer()
    archive_transfer_syntax = fields.String()
    archived_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "when the verified lossless archive copy (or the decision to keep the instance as "
            "received) replaced the received bytes; null while the archive job has yet to run"
        },
    )
    download_url = fields.String(
        allow_none=True,
        metadata={
            "description": "the stored DICOM (clinical roles only): this API's download endpoint, which "
            "audits the download and redirects to a short-lived URL"
        },
    )


class ImageQuerySchema(Schema):
    """Filters of a patient's image list."""

    image_type = fields.Enum(ImageType, by_value=True)
    acquired_from = fields.Date()
    acquired_to = fields.Date()


class AssignSchema(Schema):
    """The patient an inbox image belongs to."""

    patient_id = fields.UUID(required=True)

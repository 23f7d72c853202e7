"""Opaque object keys: a tenant prefix and random ids; never names, birth dates or DICOM UIDs."""

from __future__ import annotations

import uuid


def dicom_key(tenant_id: uuid.UUID) -> str:
    """Where a DICOM instance lives: the bytes as received (written before they are acknowledged, the
    image's DICOM until its archive copy replaces it, and for good when they are kept as received) and
    archive copies alike. One prefix, so no store rule meant for transient files can reach an image's
    only copy."""
    return f"{tenant_id}/dicom/{uuid.uuid4().hex}.dcm"


def rendition_key(tenant_id: uuid.UUID, group: str, name: str, extension: str) -> str:
    """Where one rendition of an image lives; `group` is a random id shared by the image's renditions."""
    return f"{tenant_id}/renditions/{group}/{name}.{extension}"

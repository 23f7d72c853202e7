"""Opaque object keys: a tenant prefix and random ids; never names, birth dates or DICOM UIDs."""

from __future__ import annotations

import uuid


def spool_key(tenant_id: uuid.UUID) -> str:
    """Where a received instance is written before it is acknowledged. It stays the image's stored DICOM
    until its archive copy replaces it, and for good when it is kept as received (lossy or already
    compressed originals)."""
    return f"{tenant_id}/incoming/{uuid.uuid4().hex}.dcm"


def archive_key(tenant_id: uuid.UUID) -> str:
    """Where the archived (lossless compressed or as-received) instance lives."""
    return f"{tenant_id}/archive/{uuid.uuid4().hex}.dcm"


def rendition_key(tenant_id: uuid.UUID, group: str, name: str, extension: str) -> str:
    """Where one rendition of an image lives; `group` is a random id shared by the image's renditions."""
    return f"{tenant_id}/renditions/{group}/{name}.{extension}"

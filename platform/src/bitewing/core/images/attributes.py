"""The DICOM header values kept with an image for routing rules (device and study descriptors, no PHI)."""

from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom.multival import MultiValue

ROUTING_KEYWORDS = (
    "Manufacturer",
    "ManufacturerModelName",
    "DeviceSerialNumber",
    "SoftwareVersions",
    "StationName",
    "InstitutionName",
    "InstitutionalDepartmentName",
    "BodyPartExamined",
    "StudyDescription",
    "SeriesDescription",
    "ImageType",
    "ViewPosition",
    "ImageLaterality",
    "PositionerType",
    "AcquisitionDeviceProcessingDescription",
)


def routing_attributes(data: bytes) -> dict[str, str]:
    """The `ROUTING_KEYWORDS` present in a Part-10 instance, as strings (multi-values joined with ``\\``)."""
    ds = pydicom.dcmread(
        BytesIO(data), stop_before_pixels=True, specific_tags=list(ROUTING_KEYWORDS), force=True
    )
    values: dict[str, str] = {}
    for keyword in ROUTING_KEYWORDS:
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
        values[keyword] = text[:256]
    return values

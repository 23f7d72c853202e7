"""The DICOM header values kept with an image for routing rules (device and study descriptors, no PHI)."""

from __future__ import annotations

from pydicom.dataset import Dataset
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


def routing_attributes(ds: Dataset) -> dict[str, str]:
    """The `ROUTING_KEYWORDS` present in an instance, as strings (multi-values joined with ``\\``)."""
    values: dict[str, str] = {}
    for keyword in ROUTING_KEYWORDS:
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
        values[keyword] = text[:256]
    return values

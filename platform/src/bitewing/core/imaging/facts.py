"""What an instance is: identifiers, patient demographics, geometry, dental image type and teeth.

Image type is decided, most specific evidence first: the SOP class, the modality, hints in the image type,
descriptions, body part and anatomic codes, and finally the sending machine's configured default.
Teeth are returned as ISO 3950 (FDI) two-digit designations.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import DA, DT, TM

IMAGE_TYPES = ("intraoral", "bitewing", "periapical", "panoramic", "cephalometric", "cbct", "photo", "other")

_SOP_CLASS_TYPES = {
    "1.2.840.10008.5.1.4.1.1.1.3": "intraoral",
    "1.2.840.10008.5.1.4.1.1.1.3.1": "intraoral",
    "1.2.840.10008.5.1.4.1.1.2": "cbct",
    "1.2.840.10008.5.1.4.1.1.2.1": "cbct",
    "1.2.840.10008.5.1.4.1.1.2.2": "cbct",
    "1.2.840.10008.5.1.4.1.1.77.1.4": "photo",
    "1.2.840.10008.5.1.4.1.1.77.1.1": "photo",
}
"""SOP classes that alone fix the image type: Digital Intra-Oral X-Ray, CT / Enhanced CT / Legacy Converted
Enhanced CT (a dental CT is a CBCT), VL Photographic and VL Endoscopic (intra-oral camera) images."""

_MODALITY_TYPES = {"IO": "intraoral", "PX": "panoramic", "CT": "cbct", "XC": "photo", "ES": "photo"}

_HINTS = (
    ("cephalometric", re.compile(r"\bceph|cephalo|lateral skull", re.IGNORECASE)),
    ("panoramic", re.compile(r"\bpano|panoram|orthopantomo|\bopg\b|\bopt\b", re.IGNORECASE)),
    ("cbct", re.compile(r"\bcbct\b|cone[\s-]?beam", re.IGNORECASE)),
    ("bitewing", re.compile(r"bite[\s-]?wing|\bbwx?\b", re.IGNORECASE)),
    ("periapical", re.compile(r"peri[\s-]?apical|\bpa\b|\bpax\b", re.IGNORECASE)),
    ("intraoral", re.compile(r"intra[\s-]?oral|occlusal", re.IGNORECASE)),
    ("photo", re.compile(r"photo|intraoral camera", re.IGNORECASE)),
)
"""Text hints, most specific first (a "PA ceph" is a cephalogram, not a periapical)."""

_TOOTH_SCHEMES = ("ISO3950", "99ISO3950")
_TOOTH_NUMBERS = (
    ("central incisor", 1),
    ("lateral incisor", 2),
    ("canine", 3),
    ("cuspid", 3),
    ("first premolar", 4),
    ("second premolar", 5),
    ("first molar", 6),
    ("second molar", 7),
    ("third molar", 8),
)
_FDI = re.compile(r"^[1-8][1-8]$")


@dataclass
class InstanceFacts:
    """Everything the platform records about an instance, taken from its header only."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str
    modality: str
    image_type: str
    teeth: list[str] = field(default_factory=list)
    laterality: str | None = None
    acquisition_datetime: dt.datetime | None = None
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: dt.date | None = None
    patient_sex: str = ""
    rows: int = 0
    columns: int = 0
    frames: int = 1
    bits_stored: int = 0
    photometric: str = ""
    transfer_syntax_uid: str = ""
    study_description: str = ""
    series_description: str = ""
    body_part: str = ""
    accession_number: str = ""
    study_id: str = ""
    study_time: str = ""
    referring_physician: str = ""
    series_number: int | None = None
    instance_number: int | None = None


def _integer(value: object) -> int | None:
    """An IS value as int, or None when absent or not a whole number."""
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _codes(ds: Dataset) -> list[Dataset]:
    """Code items of the anatomic region and primary anatomic structure sequences, at any of their levels."""
    items: list[Dataset] = []
    for keyword in ("AnatomicRegionSequence", "PrimaryAnatomicStructureSequence"):
        for item in ds.get(keyword) or []:
            items.append(item)
            items.extend(_codes(item))
    return items


def _tooth_from_meaning(meaning: str) -> str | None:
    """An FDI number from a SNOMED-style tooth name, e.g. 'Permanent maxillary right first molar tooth' → 16."""
    text = meaning.lower()
    upper = any(w in text for w in ("maxillary", "upper"))
    lower = any(w in text for w in ("mandibular", "lower"))
    right, left = "right" in text, "left" in text
    number = next((n for name, n in _TOOTH_NUMBERS if name in text), None)
    if number is None or upper == lower or right == left:
        return None
    primary = any(w in text for w in ("deciduous", "primary", "baby"))
    if primary and number in (4, 5, 8):
        return None
    if primary and number >= 6:
        number -= 2
    quadrant = (1 if right else 2) if upper else (4 if right else 3)
    return f"{quadrant + 4 if primary else quadrant}{number}"


def teeth_of(ds: Dataset) -> list[str]:
    """ISO 3950 tooth designations recorded in the anatomic code sequences, sorted, without duplicates."""
    found: set[str] = set()
    for item in _codes(ds):
        value = str(item.get("CodeValue", "")).strip()
        scheme = str(item.get("CodingSchemeDesignator", "")).strip().upper()
        meaning = str(item.get("CodeMeaning", ""))
        if scheme in _TOOTH_SCHEMES and _FDI.match(value):
            found.add(value)
            continue
        tooth = (
            _tooth_from_meaning(meaning) if "tooth" in meaning.lower() or "molar" in meaning.lower() else None
        )
        if tooth:
            found.add(tooth)
    return sorted(found)


def _hint_type(ds: Dataset) -> str | None:
    texts = [
        _text(ds, k)
        for k in (
            "SeriesDescription",
            "StudyDescription",
            "ProtocolName",
            "BodyPartExamined",
            "ImageType",
            "AcquisitionDeviceProcessingDescription",
            "ViewPosition",
        )
    ]
    texts += [str(item.get("CodeMeaning", "")) for item in _codes(ds)]
    blob = " | ".join(t for t in texts if t)
    return next((kind for kind, pattern in _HINTS if pattern.search(blob)), None)


def classify(ds: Dataset, default_image_type: str | None = None) -> str:
    """The dental image type (one of IMAGE_TYPES) from SOP class, modality, hints and the machine default."""
    by_class = _SOP_CLASS_TYPES.get(str(ds.get("SOPClassUID", "")))
    by_modality = _MODALITY_TYPES.get(_text(ds, "Modality").upper())
    hint = _hint_type(ds)
    default = default_image_type if default_image_type in IMAGE_TYPES else None
    decided = by_class or by_modality
    if decided == "intraoral":
        if hint in ("bitewing", "periapical"):
            return hint
        return default if default in ("bitewing", "periapical") else "intraoral"
    if decided:
        return decided
    if hint:
        return hint
    return default or "other"


def _date(value: object) -> dt.date | None:
    if not value:
        return None
    try:
        parsed = DA(str(value))
    except ValueError:
        return None
    return parsed if isinstance(parsed, dt.date) else None


def acquisition_datetime(ds: Dataset) -> dt.datetime | None:
    """When the image was taken: Acquisition DateTime, else Acquisition/Content/Series/Study date and time."""
    for keyword in ("AcquisitionDateTime", "FrameAcquisitionDateTime"):
        value = ds.get(keyword)
        if value:
            try:
                return DT(str(value)).replace(tzinfo=None)
            except ValueError:
                continue
    for prefix in ("Acquisition", "Content", "Series", "Study"):
        day = _date(ds.get(f"{prefix}Date"))
        if day is None:
            continue
        moment = dt.time()
        raw_time = ds.get(f"{prefix}Time")
        if raw_time:
            try:
                moment = TM(str(raw_time))
            except ValueError:
                moment = dt.time()
        return dt.datetime.combine(day, moment.replace(tzinfo=None))
    return None


def extract_facts(ds: Dataset, default_image_type: str | None = None) -> InstanceFacts:
    """The InstanceFacts of a parsed dataset (see `validate.parse_instance`)."""
    file_meta = ds.get("file_meta") or {}
    laterality = _text(ds, "ImageLaterality") or _text(ds, "Laterality") or None
    return InstanceFacts(
        sop_instance_uid=str(ds.SOPInstanceUID),
        sop_class_uid=str(ds.SOPClassUID),
        study_instance_uid=str(ds.StudyInstanceUID),
        series_instance_uid=str(ds.SeriesInstanceUID),
        modality=_text(ds, "Modality"),
        image_type=classify(ds, default_image_type),
        teeth=teeth_of(ds),
        laterality=laterality,
        acquisition_datetime=acquisition_datetime(ds),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_birth_date=_date(ds.get("PatientBirthDate")),
        patient_sex=_text(ds, "PatientSex"),
        rows=int(ds.get("Rows", 0) or 0),
        columns=int(ds.get("Columns", 0) or 0),
        frames=max(1, int(ds.get("NumberOfFrames", 1) or 1)),
        bits_stored=int(ds.get("BitsStored", 0) or 0),
        photometric=_text(ds, "PhotometricInterpretation"),
        transfer_syntax_uid=str(file_meta.get("TransferSyntaxUID", "")),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        body_part=_text(ds, "BodyPartExamined"),
        accession_number=_text(ds, "AccessionNumber"),
        study_id=_text(ds, "StudyID"),
        study_time=_text(ds, "StudyTime"),
        referring_physician=_text(ds, "ReferringPhysicianName"),
        series_number=_integer(ds.get("SeriesNumber")),
        instance_number=_integer(ds.get("InstanceNumber")),
    )

"""DICOM JSON (PS3.18 Annex F) from plain values, from datasets (metadata) and for STOW-RS responses."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

JsonDataset = dict[str, dict[str, Any]]

NUMBER_VRS = frozenset({"IS", "DS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
BULK_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
INLINE_BINARY_LIMIT = 1024
"""Binary elements up to this size are kept as InlineBinary in metadata; larger ones are left out."""

_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")


def keyword_of(attribute: str) -> str | None:
    """The keyword of an attribute given by keyword or as eight hex digits; None when it is not a DICOM
    attribute of the dictionary (unknown keywords, private tags)."""
    if _TAG.match(attribute):
        return keyword_for_tag(int(attribute, 16)) or None
    return attribute if tag_for_keyword(attribute) is not None else None


def tag_hex(keyword: str) -> str:
    """The eight upper-case hex digits of `keyword`'s tag, as DICOM JSON names attributes."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword}")
    return f"{tag:08X}"


def _vr(keyword: str) -> str:
    vr = dictionary_VR(Tag(tag_for_keyword(keyword)))
    return vr.split(" or ")[0]


def _json_value(vr: str, value: Any) -> Any:
    if vr == "PN":
        return {"Alphabetic": str(value)}
    if vr == "DA" and isinstance(value, date):
        return value.strftime("%Y%m%d")
    if vr == "DT" and isinstance(value, datetime):
        text = value.strftime("%Y%m%d%H%M%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}"
        return text + (value.strftime("%z") if value.tzinfo else "")
    if vr == "SQ":
        return value
    if vr in NUMBER_VRS and not isinstance(value, int | float):
        return float(value) if vr in ("DS", "FL", "FD") else int(value)
    return value if vr in NUMBER_VRS else str(value)


def element(keyword: str, value: Any) -> dict[str, Any]:
    """The DICOM JSON of one attribute; None, "" and [] give an attribute without a value (zero length)."""
    vr = _vr(keyword)
    values = value if isinstance(value, list | tuple) else [value]
    values = [v for v in values if v is not None and v != ""]
    out: dict[str, Any] = {"vr": vr}
    if values:
        out["Value"] = [_json_value(vr, v) for v in values]
    return out


def to_json(values: Mapping[str, Any], keep: Iterable[str] | None = None) -> JsonDataset:
    """A DICOM JSON dataset of `values` (keyword → Python value), restricted to `keep` when given, in tag
    order."""
    wanted = set(keep) if keep is not None else None
    chosen = [k for k in values if wanted is None or k in wanted]
    return {tag_hex(k): element(k, values[k]) for k in sorted(chosen, key=tag_hex)}


def _is_bulk(elem: DataElement) -> bool:
    pixels = elem.tag.group == 0x7FE0
    overlay = elem.tag.group >> 8 == 0x60 and elem.tag.element == 0x3000
    large = elem.VR in BULK_VRS and elem.value is not None and len(elem.value) > INLINE_BINARY_LIMIT
    return pixels or overlay or large


def _strip_bulk(ds: Dataset) -> None:
    for elem in list(ds):
        if _is_bulk(elem):
            del ds[elem.tag]
        elif elem.VR == "SQ":
            for item in elem.value:
                _strip_bulk(item)


def metadata(ds: Dataset) -> JsonDataset:
    """The DICOM JSON of `ds` without bulk data: pixel data, overlays and binary values over
    `INLINE_BINARY_LIMIT` bytes are left out (this server offers no bulk-data resources), smaller binary
    values are inline. `ds` is modified."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _strip_bulk(ds)
        return ds.to_json_dict(bulk_data_threshold=INLINE_BINARY_LIMIT + 1)


@dataclass(frozen=True)
class InstanceRef:
    """An instance named in a STOW-RS response (UIDs may be unknown for undecodable parts)."""

    sop_class_uid: str | None
    sop_instance_uid: str | None
    retrieve_url: str | None = None
    failure_reason: int | None = None
    warning_reason: int | None = None


def stow_response(stored: list[InstanceRef], failed: list[InstanceRef], study_url: str | None) -> JsonDataset:
    """The Store Instances Response Module (PS3.18 Table 10.5.3-3) as DICOM JSON."""
    out: dict[str, Any] = {}
    if study_url:
        out["RetrieveURL"] = study_url
    if stored:
        out["ReferencedSOPSequence"] = [
            to_json(
                {
                    "ReferencedSOPClassUID": ref.sop_class_uid,
                    "ReferencedSOPInstanceUID": ref.sop_instance_uid,
                    "RetrieveURL": ref.retrieve_url,
                    **({"WarningReason": ref.warning_reason} if ref.warning_reason is not None else {}),
                }
            )
            for ref in stored
        ]
    if failed:
        out["FailedSOPSequence"] = [
            to_json(
                {
                    "ReferencedSOPClassUID": ref.sop_class_uid,
                    "ReferencedSOPInstanceUID": ref.sop_instance_uid,
                    "FailureReason": ref.failure_reason,
                }
            )
            for ref in failed
        ]
    return to_json(out)

"""extract_facts: identifiers, demographics, geometry, dental image type and teeth."""

from __future__ import annotations

import datetime as dt

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import HTJ2KLossless

from bitewing.core.imaging import synthetic
from bitewing.core.imaging.facts import classify, extract_facts, teeth_of


def test_intraoral_facts(intraoral: Dataset) -> None:
    facts = extract_facts(intraoral)
    assert facts.sop_instance_uid == intraoral.SOPInstanceUID
    assert facts.sop_class_uid == synthetic.IO_FOR_PRESENTATION
    assert facts.modality == "IO"
    assert facts.image_type == "intraoral"
    assert facts.teeth == ["36", "37"]
    assert facts.patient_id == "DEMO1"
    assert facts.patient_name == "Demo^Patient"
    assert facts.patient_birth_date == dt.date(1980, 1, 1)
    assert facts.acquisition_datetime == dt.datetime(2024, 5, 17, 10, 30)
    assert (facts.rows, facts.columns, facts.frames, facts.bits_stored) == (300, 200, 1, 12)
    assert facts.photometric == "MONOCHROME2"
    assert facts.transfer_syntax_uid == "1.2.840.10008.1.2.1"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("intraoral", "intraoral"),
        ("bitewing", "bitewing"),
        ("periapical", "periapical"),
        ("panoramic", "panoramic"),
        ("cephalometric", "cephalometric"),
        ("cbct", "cbct"),
    ],
)
def test_synthetic_kinds_classify(kind: synthetic.Kind, expected: str) -> None:
    ds = synthetic.make_instance(kind, shape=(16, 16), frames=2 if kind == "cbct" else None)
    assert extract_facts(ds).image_type == expected


def test_cbct_facts() -> None:
    ds = synthetic.make_instance("cbct", shape=(16, 16), frames=4, transfer_syntax=HTJ2KLossless)
    facts = extract_facts(ds)
    assert (facts.frames, facts.modality, facts.transfer_syntax_uid) == (4, "CT", HTJ2KLossless)
    assert facts.acquisition_datetime == dt.datetime(2024, 5, 17, 10, 30)


def _ds(**attributes: object) -> Dataset:
    ds = Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("attributes", "default", "expected"),
    [
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.2.1", "Modality": "CT"}, None, "cbct"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.2"}, None, "cbct"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.77.1.4", "Modality": "XC"}, None, "photo"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.1", "Modality": "PX"}, None, "panoramic"),
        (
            {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.1", "Modality": "DX", "SeriesDescription": "Lat Ceph"},
            None,
            "cephalometric",
        ),
        (
            {
                "SOPClassUID": "1.2.840.10008.5.1.4.1.1.1",
                "Modality": "DX",
                "BodyPartExamined": "SKULL",
                "StudyDescription": "PA ceph",
            },
            None,
            "cephalometric",
        ),
        (
            {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.1", "Modality": "DX", "SeriesDescription": "OPG"},
            None,
            "panoramic",
        ),
        (
            {
                "SOPClassUID": "1.2.840.10008.5.1.4.1.1.1.3",
                "Modality": "IO",
                "SeriesDescription": "BWX right",
            },
            None,
            "bitewing",
        ),
        (
            {
                "SOPClassUID": "1.2.840.10008.5.1.4.1.1.1.3",
                "Modality": "IO",
                "ImageType": ["ORIGINAL", "PRIMARY", "PERIAPICAL"],
            },
            None,
            "periapical",
        ),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.1.3", "Modality": "IO"}, "bitewing", "bitewing"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.1.3", "Modality": "IO"}, "panoramic", "intraoral"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7", "Modality": "OT"}, "panoramic", "panoramic"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7", "Modality": "OT"}, None, "other"),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7", "Modality": "OT"}, "nonsense", "other"),
    ],
)
def test_classify(attributes: dict[str, object], default: str | None, expected: str) -> None:
    assert classify(_ds(**attributes), default) == expected


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    return _ds(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def test_teeth_from_snomed_meanings_and_iso3950() -> None:
    region = _code("T-11170", "SRT", "Maxilla and mandible")
    region.PrimaryAnatomicStructureSequence = Sequence(
        [
            _code("11", "ISO3950", "Tooth 11"),
            _code("1234", "SCT", "Permanent maxillary right first molar tooth"),
            _code("5678", "SCT", "Permanent mandibular left third molar tooth"),
            _code("9999", "SCT", "Deciduous mandibular right canine tooth"),
            _code("9998", "SCT", "Deciduous maxillary left second molar tooth"),
            _code("99", "ISO3950", "not a tooth"),
            _code("T-54000", "SRT", "Mandible"),
        ]
    )
    ds = _ds(AnatomicRegionSequence=Sequence([region]))
    assert teeth_of(ds) == ["11", "16", "38", "65", "83"]


def test_laterality_and_missing_dates() -> None:
    ds = synthetic.make_instance("bitewing", shape=(16, 16), laterality="R")
    del ds.PatientBirthDate
    for prefix in ("Acquisition", "Content", "Series", "Study"):
        delattr(ds, f"{prefix}Date")
    facts = extract_facts(ds)
    assert facts.laterality == "R"
    assert facts.patient_birth_date is None
    assert facts.acquisition_datetime is None

"""Synthetic instances: device geometry, valid headers, plausible and deterministic content."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import HTJ2KLossless

from bitewing.core.imaging import synthetic, transcode
from bitewing.core.imaging.validate import is_valid_uid, parse_instance

GEOMETRY = {
    "intraoral": (1700, 1300, 12, "IO", synthetic.IO_FOR_PRESENTATION),
    "bitewing": (1300, 1700, 12, "IO", synthetic.IO_FOR_PRESENTATION),
    "periapical": (1700, 1300, 12, "IO", synthetic.IO_FOR_PRESENTATION),
    "panoramic": (1500, 2900, 14, "PX", synthetic.DX_FOR_PRESENTATION),
    "cephalometric": (2400, 3000, 12, "DX", synthetic.DX_FOR_PRESENTATION),
}


@pytest.mark.parametrize("kind", GEOMETRY)
def test_projection_geometry_and_content(kind: synthetic.Kind) -> None:
    rows, cols, bits, modality, sop_class = GEOMETRY[kind]
    ds = synthetic.make_instance(kind)
    assert (ds.Rows, ds.Columns, ds.BitsStored, ds.Modality, ds.SOPClassUID) == (
        rows,
        cols,
        bits,
        modality,
        sop_class,
    )
    pixels = ds.pixel_array
    assert pixels.max() < 1 << bits
    assert pixels.std() > (1 << bits) * 0.03, "not a flat field"
    assert float(ds.WindowWidth) > 0
    neighbours = np.abs(np.diff(pixels[::4].astype(np.int32), axis=1)).mean()
    assert neighbours < pixels.std() * 0.3, "spatially correlated content, not white noise"
    assert all(
        is_valid_uid(str(ds.get(k))) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
    )


def test_realistic_lossless_ratio() -> None:
    ds = synthetic.make_instance("intraoral", sensor_size=1)
    data, _ = transcode.lossless_archive(ds)
    assert 1.6 < len(ds.PixelData) / len(data) < 5.0


def test_cbct_volume() -> None:
    ds = synthetic.make_instance("cbct")
    assert (ds.NumberOfFrames, ds.Rows, ds.Columns, ds.PixelRepresentation) == (160, 200, 200, 1)
    assert ds.SOPClassUID == synthetic.ENHANCED_CT
    assert ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0].RescaleIntercept == -1000
    assert len(ds.PerFrameFunctionalGroupsSequence) == 160


def test_deterministic_by_seed_with_fresh_uids() -> None:
    a = synthetic.make_instance("periapical", shape=(60, 40), seed=5)
    b = synthetic.make_instance("periapical", shape=(60, 40), seed=5)
    c = synthetic.make_instance("periapical", shape=(60, 40), seed=6)
    assert a.PixelData == b.PixelData
    assert a.PixelData != c.PixelData
    assert a.SOPInstanceUID != b.SOPInstanceUID


def test_patient_and_study() -> None:
    ds = synthetic.make_instance(
        "intraoral",
        shape=(8, 8),
        patient_id="P7",
        patient_name="Roe^Jan",
        birth_date="19991231",
        study_uid="1.2.3.4",
    )
    assert (ds.PatientID, str(ds.PatientName), ds.PatientBirthDate, ds.StudyInstanceUID) == (
        "P7",
        "Roe^Jan",
        "19991231",
        "1.2.3.4",
    )


def test_monochrome1_inverts_values() -> None:
    normal = synthetic.make_instance("intraoral", shape=(30, 20))
    inverted = synthetic.make_instance("intraoral", shape=(30, 20), monochrome1=True)
    assert inverted.PhotometricInterpretation == "MONOCHROME1"
    assert np.array_equal(inverted.pixel_array, 4095 - normal.pixel_array)


def test_to_bytes_parses_back() -> None:
    ds = synthetic.make_instance("bitewing", shape=(30, 20), transfer_syntax=HTJ2KLossless)
    data = synthetic.to_bytes(ds)
    assert data[128:132] == b"DICM"
    assert parse_instance(data).SOPInstanceUID == ds.SOPInstanceUID


def test_many_instances_are_cheap() -> None:
    import time

    synthetic.make_instance("intraoral", seed=11)
    start = time.perf_counter()
    for _ in range(50):
        synthetic.to_bytes(synthetic.make_instance("intraoral", seed=11))
    assert time.perf_counter() - start < 5.0, "cached content: hundreds of images in a test run"


def test_detector_noise_has_unit_variance_and_a_real_detectors_correlation() -> None:
    """Quantum noise blurred by the scintillator plus white electronic noise: per-pixel SD 1 (the
    amplitude is set by the signal), neighbours correlated about as on pydicom-data's CR images (0.38 to
    0.51 measured), pixels three apart independent."""
    noise = synthetic.detector_noise(np.random.default_rng(0), 512, 512).astype(np.float64)

    def correlation(lag: int, axis: int) -> float:
        a = noise.take(range(lag, 512), axis=axis).ravel()
        b = noise.take(range(512 - lag), axis=axis).ravel()
        return float(np.corrcoef(a, b)[0, 1])

    assert noise.std() == pytest.approx(1.0, abs=0.01)
    for axis in (0, 1):
        assert 0.32 < correlation(1, axis) < 0.42
        assert abs(correlation(3, axis)) < 0.02

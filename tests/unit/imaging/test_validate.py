"""parse_instance accepts good instances and rejects each kind of bad input with its reason code."""

from __future__ import annotations

import io
import struct
import warnings

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    RLELossless,
)

from bitewing.core.imaging import synthetic
from bitewing.core.imaging.validate import InvalidInstance, is_valid_uid, parse_instance


def _reason(data: bytes, **kwargs: int) -> str:
    with pytest.raises(InvalidInstance) as caught:
        parse_instance(data, **kwargs)
    assert str(caught.value), "the exception carries a human message"
    return caught.value.reason


def test_accepts_part10(intraoral: Dataset) -> None:
    ds = parse_instance(synthetic.to_bytes(intraoral))
    assert ds.SOPInstanceUID == intraoral.SOPInstanceUID
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_accepts_raw_dataset_and_records_its_syntax(intraoral: Dataset) -> None:
    part10 = synthetic.to_bytes(
        synthetic.make_instance("intraoral", shape=(20, 10), transfer_syntax=ImplicitVRLittleEndian)
    )
    meta_end = 132 + 12 + struct.unpack_from("<I", part10, 140)[0]
    ds = parse_instance(part10[meta_end:])
    assert ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert ds.Rows == 20


@pytest.mark.parametrize(
    "syntax",
    [
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
        JPEGLSLossless,
        RLELossless,
    ],
)
def test_pixel_data_is_read_as_a_view_of_the_received_bytes(syntax: UID) -> None:
    """Native Pixel Data is not copied out of the received buffer (a deflated dataset's is inflated;
    encapsulated pixel data, which pydicom's fragment readers need as bytes, is copied), and every element,
    the ones after the Pixel Data included, reads as pydicom reads the whole file. The sizes exceed the
    reader's view threshold."""
    source = synthetic.make_instance("intraoral", shape=(600, 480), transfer_syntax=syntax)
    source.DataSetTrailingPadding = b"\0" * 70_000  # a large element after the Pixel Data
    data = synthetic.to_bytes(source)
    ds = parse_instance(data)
    reference = pydicom.dcmread(io.BytesIO(data))
    pixels = ds.PixelData
    assert len(pixels) > 65_536
    native = syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)
    assert (isinstance(pixels, memoryview) and pixels.obj is data) == native
    assert isinstance(pixels, bytes) != native
    assert bytes(pixels) == reference.PixelData
    assert [(e.tag, e.VR, e.value) for e in ds] == [(e.tag, e.VR, e.value) for e in reference]


@pytest.mark.parametrize("syntax", [HTJ2KLossless, JPEGLSLossless])
def test_accepts_encapsulated(syntax: UID) -> None:
    ds = synthetic.make_instance("cbct", shape=(16, 16), frames=3, transfer_syntax=syntax)
    assert parse_instance(synthetic.to_bytes(ds)).NumberOfFrames == 3


@pytest.mark.parametrize(
    "data", [b"", b"hello world, not dicom at all" * 10, b"\x89PNG\r\n\x1a\n" + bytes(200)]
)
def test_not_dicom(data: bytes) -> None:
    assert _reason(data) == "not_dicom"


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_inside_pixel_data(intraoral: Dataset, keep: float) -> None:
    data = synthetic.to_bytes(intraoral)
    assert _reason(data[: int(len(data) * keep)]) == "truncated"


def test_truncated_inside_header(intraoral: Dataset) -> None:
    data = synthetic.to_bytes(intraoral)
    cut = data.index(b"Demo^Patient") + 4
    assert _reason(data[:cut]) == "truncated"


def test_truncated_encapsulated() -> None:
    data = synthetic.to_bytes(
        synthetic.make_instance("intraoral", shape=(64, 64), transfer_syntax=HTJ2KLossless)
    )
    assert _reason(data[:-300]) in ("truncated", "pixel_data_short")


def test_no_pixel_data(intraoral: Dataset) -> None:
    del intraoral.PixelData
    assert _reason(synthetic.to_bytes(intraoral)) == "no_pixel_data"


def test_pixel_data_short(intraoral: Dataset) -> None:
    intraoral.PixelData = intraoral.PixelData[:-1000]
    assert _reason(synthetic.to_bytes(intraoral)) == "pixel_data_short"


def test_encapsulated_missing_frames() -> None:
    ds = synthetic.make_instance("cbct", shape=(16, 16), frames=3, transfer_syntax=HTJ2KLossless)
    ds.NumberOfFrames = 5
    assert _reason(synthetic.to_bytes(ds)) == "pixel_data_short"


def test_too_large(intraoral: Dataset) -> None:
    data = synthetic.to_bytes(intraoral)
    assert _reason(data, max_pixels=300 * 200 - 1) == "too_large"
    assert parse_instance(data, max_pixels=300 * 200)


def test_decompression_bomb_header() -> None:
    ds = synthetic.make_instance("intraoral", shape=(8, 8), transfer_syntax=HTJ2KLossless)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 100
    assert _reason(synthetic.to_bytes(ds)) == "too_large"


def test_unsupported_transfer_syntax(intraoral: Dataset) -> None:
    data = synthetic.to_bytes(
        synthetic.make_instance("intraoral", shape=(8, 8), transfer_syntax=HTJ2KLossless)
    )
    mpeg4 = b"1.2.840.10008.1.2.4.102\x00"
    patched = data.replace(str(HTJ2KLossless).encode() + b"\x00", mpeg4, 1)
    assert patched != data
    assert _reason(patched) == "unsupported_transfer_syntax"


@pytest.mark.parametrize("bad", ["1.2.3/4", "1.2..3", "1.2.abc", "1." + "2" * 70, "../../etc/passwd"])
@pytest.mark.parametrize("keyword", ["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"])
def test_bad_uid(intraoral: Dataset, keyword: str, bad: str) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Invalid value for VR UI|The value length .* for VR UI", UserWarning
        )
        setattr(intraoral, keyword, bad)
        data = synthetic.to_bytes(intraoral)
    assert _reason(data) == "bad_uid"


@pytest.mark.parametrize(
    "keyword", ["SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID"]
)
def test_missing_uid(intraoral: Dataset, keyword: str) -> None:
    delattr(intraoral, keyword)
    intraoral.file_meta.MediaStorageSOPInstanceUID = "1.2.3"
    data = (
        synthetic.to_bytes(intraoral) if keyword not in ("SOPInstanceUID", "SOPClassUID") else _raw(intraoral)
    )
    assert _reason(data) == "missing_uid"


def _raw(ds: Dataset) -> bytes:
    """Part-10 bytes of a dataset lacking the UIDs the writer needs for its file meta."""
    import io

    import pydicom

    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=False, little_endian=True)
    return buffer.getvalue()


def _nested(depth: int) -> Dataset:
    top = Dataset()
    current = top
    for _ in range(depth):
        item = Dataset()
        current.ReferencedSeriesSequence = Sequence([item])
        current = item
    current.SeriesInstanceUID = "1.2.3"
    return top


def test_nesting_too_deep(intraoral: Dataset) -> None:
    intraoral.update(_nested(9))
    assert _reason(synthetic.to_bytes(intraoral)) == "nesting_too_deep"


def test_nesting_within_limit(intraoral: Dataset) -> None:
    intraoral.update(_nested(8))
    assert parse_instance(synthetic.to_bytes(intraoral))


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian])
@pytest.mark.parametrize("undefined", [False, True])
def test_nesting_limit_on_every_reading_path(syntax: UID, undefined: bool) -> None:
    """Defined-length sequences of Explicit VR Little Endian data are walked as bytes, the rest through
    pydicom: both find the same limit."""
    for depth, too_deep in ((8, False), (9, True)):
        ds = synthetic.make_instance("intraoral", shape=(8, 6), transfer_syntax=syntax)
        ds.update(_nested(depth))
        if undefined:
            ds["ReferencedSeriesSequence"].is_undefined_length = True
        data = synthetic.to_bytes(ds)
        if too_deep:
            assert _reason(data) == "nesting_too_deep", (depth, syntax.name)
        else:
            assert parse_instance(data), (depth, syntax.name)


def test_byte_walker_skips_per_frame_groups_without_pydicom(small_cbct: Dataset) -> None:
    ds = parse_instance(synthetic.to_bytes(small_cbct))
    assert type(ds.get_item("PerFrameFunctionalGroupsSequence")).__name__ == "RawDataElement"
    assert len(ds.PerFrameFunctionalGroupsSequence) == 12


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("1.2.840.10008.1.2.1", True),
        ("0", True),
        ("1.02.3", True),
        ("", False),
        ("1.2.", False),
        (".1", False),
    ],
)
def test_uid_rules(value: str, valid: bool) -> None:
    assert is_valid_uid(value) is valid


@pytest.mark.parametrize(("bits_stored", "representation"), [(17, 0), (0, 0), (12, 2)])
def test_impossible_bits_stored_or_pixel_representation_is_rejected(
    bits_stored: int, representation: int
) -> None:
    ds = synthetic.make_instance("intraoral", shape=(8, 8))
    ds.BitsStored, ds.PixelRepresentation = bits_stored, representation
    with pytest.raises(InvalidInstance) as caught:
        parse_instance(synthetic.to_bytes(ds))
    assert caught.value.reason == "bad_pixel_module"

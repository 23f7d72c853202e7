"""lossless_archive: bit-exact for every depth and layout, verified, lossy input kept as received."""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, HTJ2KLossless, JPEGBaseline8Bit, JPEGLSLossless, RLELossless

from bitewing.core.imaging import codecs, synthetic, transcode
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.transcode import ArchiveMismatch, lossless_archive

from .conftest import load_testdata


def _round_trip(ds: Dataset) -> tuple[Dataset, str]:
    before = stored_frames(ds)[0].copy()
    data, syntax = lossless_archive(ds)
    archived = pydicom.dcmread(io.BytesIO(data))
    assert archived.file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(stored_frames(archived)[0], before), "pydicom's decoders read back the exact values"
    assert archived.SOPInstanceUID == ds.SOPInstanceUID
    return archived, syntax


@pytest.mark.parametrize("bits", [8, 10, 12, 14, 16])
def test_unsigned_depths(bits: int) -> None:
    ds = synthetic.make_instance("intraoral", shape=(64, 48))
    pixels = ds.pixel_array.astype(np.uint32) << max(0, bits - 12) >> max(0, 12 - bits)
    ds.BitsStored, ds.HighBit = bits, bits - 1
    if bits == 8:
        ds.BitsAllocated = 8
    synthetic.set_pixels(
        ds, pixels.astype(np.uint8 if bits == 8 else np.uint16), ds.file_meta.TransferSyntaxUID
    )
    _, syntax = _round_trip(ds)
    assert syntax == HTJ2KLossless


def test_signed_multi_frame_volume(small_cbct: Dataset) -> None:
    original = small_cbct.PixelData
    archived, syntax = _round_trip(small_cbct)
    assert syntax == HTJ2KLossless
    assert archived.NumberOfFrames == 12
    assert small_cbct.PixelData == original, "the input dataset is not modified"
    assert small_cbct.file_meta.TransferSyntaxUID != syntax


def test_signed_12_bit_in_16() -> None:
    ds = load_testdata("mlut_18.dcm")
    assert (ds.PixelRepresentation, ds.BitsStored) == (1, 12)
    _round_trip(ds)


@pytest.mark.parametrize(
    "name",
    ["SC_rgb.dcm", "SC_rgb_16bit.dcm", "SC_rgb_2frame.dcm", "SC_ybr_full_uncompressed.dcm", "OBXXXX1A.dcm"],
)
def test_colour(name: str) -> None:
    archived, _ = _round_trip(load_testdata(name))
    assert archived.get("PlanarConfiguration", 0) == 0


@pytest.mark.parametrize(
    "name", ["MR_small_bigendian.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm"]
)
def test_other_lossless_sources(name: str) -> None:
    _round_trip(load_testdata(name))


def test_smaller_than_native() -> None:
    ds = synthetic.make_instance("intraoral", sensor_size=1)
    data, _ = lossless_archive(ds)
    assert len(data) < len(ds.PixelData) / 2


def test_lossy_input_returned_as_received() -> None:
    ds = synthetic.make_instance("intraoral", shape=(64, 48), transfer_syntax=JPEGBaseline8Bit)
    received = synthetic.to_bytes(ds)
    data, syntax = lossless_archive(ds, original=received)
    assert data is received
    assert syntax == JPEGBaseline8Bit


def test_already_archived_returned_unchanged() -> None:
    ds = synthetic.make_instance("intraoral", shape=(64, 48), transfer_syntax=HTJ2KLossless)
    received = synthetic.to_bytes(ds)
    assert lossless_archive(ds, original=received) == (received, HTJ2KLossless)


@pytest.mark.parametrize("syntax", [JPEGLSLossless, RLELossless])
def test_other_archive_syntaxes(syntax: UID) -> None:
    ds = synthetic.make_instance("cbct", shape=(20, 24), frames=2, transfer_syntax=ExplicitVRBigEndian)
    data, chosen = lossless_archive(ds, syntax=syntax)
    assert chosen == syntax
    assert np.array_equal(stored_frames(pydicom.dcmread(io.BytesIO(data)))[0], stored_frames(ds)[0])


def test_corrupt_encoding_is_caught(monkeypatch: pytest.MonkeyPatch, intraoral: Dataset) -> None:
    def lossy(frame: np.ndarray, ds: Dataset) -> bytes:
        return codecs.ENCODERS[UID("1.2.840.10008.1.2.4.203")](frame, ds)

    monkeypatch.setitem(codecs.ENCODERS, HTJ2KLossless, lossy)
    with pytest.raises(ArchiveMismatch):
        lossless_archive(intraoral)


def test_fallback_when_first_codec_fails(monkeypatch: pytest.MonkeyPatch, intraoral: Dataset) -> None:
    def broken(frame: np.ndarray, ds: Dataset) -> bytes:
        raise RuntimeError("codec unavailable")

    monkeypatch.setitem(codecs.ENCODERS, HTJ2KLossless, broken)
    _, syntax = lossless_archive(intraoral)
    assert syntax == transcode.FALLBACK_SYNTAXES[0]


@pytest.mark.parametrize("kind", ["intraoral", "cbct"])
def test_spliced_archive_equals_the_pydicom_written_one(kind: synthetic.Kind) -> None:
    """From Explicit VR Little Endian Part-10 bytes the archive is spliced (the dataset's bytes copied as
    received); for these inputs it is byte for byte the file pydicom writes from the dataset."""
    ds = synthetic.make_instance(kind, shape=(40, 30), frames=5 if kind == "cbct" else None)
    received = synthetic.to_bytes(ds)
    assert transcode._native_pixel_offset(ds, received) is not None, "the splice path is taken"
    spliced, syntax = lossless_archive(ds, original=received)
    written, _ = lossless_archive(ds)
    assert spliced == written
    archived = pydicom.dcmread(io.BytesIO(spliced))
    assert syntax == archived.file_meta.TransferSyntaxUID == HTJ2KLossless
    assert np.array_equal(stored_frames(archived)[0], stored_frames(ds)[0])


@pytest.mark.parametrize("variant", ["raw dataset", "big endian", "trailing padding"])
def test_splice_only_when_pixel_data_ends_a_little_endian_file(variant: str) -> None:
    ds = synthetic.make_instance("intraoral", shape=(16, 12))
    if variant == "big endian":
        ds = synthetic.make_instance("intraoral", shape=(16, 12), transfer_syntax=ExplicitVRBigEndian)
    received = synthetic.to_bytes(ds)
    if variant == "raw dataset":
        received = received[received.index(b"\x08\x00", 132) :]
    if variant == "trailing padding":
        ds.DataSetTrailingPadding = b"\x00\x00"
        received = synthetic.to_bytes(ds)
    assert transcode._native_pixel_offset(ds, received) is None
    data, _ = lossless_archive(ds, original=received)
    assert np.array_equal(stored_frames(pydicom.dcmread(io.BytesIO(data)))[0], stored_frames(ds)[0])


def test_verification_compares_every_frame(small_cbct: Dataset) -> None:
    frames = stored_frames(small_cbct)[0]
    archive, fragments = transcode._encoded(small_cbct, frames, "MONOCHROME2", HTJ2KLossless)
    transcode.verify(archive, frames, fragments)
    changed = frames.copy()
    changed[-1, -1, -1] += 1
    with pytest.raises(ArchiveMismatch):
        transcode.verify(archive, changed, fragments)
    with pytest.raises(ArchiveMismatch):
        transcode.verify(archive, frames, fragments[:-1])


def _siz_precision(codestream: bytes) -> tuple[int, bool]:
    """(precision in bits, signed) of the first component in a J2K codestream's SIZ marker."""
    ssiz = codestream[codestream.index(b"\xff\x51") + 40]
    return (ssiz & 0x7F) + 1, bool(ssiz & 0x80)


@pytest.mark.skipif(not codecs._HTJ2K_PRECISION, reason="this imagecodecs writes the sample type's precision")
@pytest.mark.parametrize(
    ("dtype", "bits", "low", "high"), [("uint16", 12, 0, 4095), ("int16", 12, -2048, 2047)]
)
def test_htj2k_codestream_declares_bits_stored(dtype: str, bits: int, low: int, high: int) -> None:
    frame = np.random.default_rng(0).integers(low, high + 1, (40, 56)).astype(dtype)
    ds = Dataset()
    ds.BitsStored = bits
    codestream = codecs.encode_frame(frame, HTJ2KLossless, ds)
    assert _siz_precision(codestream) == (bits, dtype == "int16")
    assert np.array_equal(imagecodecs.htj2k_decode(codestream), frame)


@pytest.mark.parametrize(("dtype", "low", "high"), [("uint16", 0, 5000), ("int16", -3000, 2047)])
def test_htj2k_values_beyond_bits_stored_keep_the_full_width(dtype: str, low: int, high: int) -> None:
    frame = np.random.default_rng(1).integers(low, high + 1, (40, 56)).astype(dtype)
    ds = Dataset()
    ds.BitsStored = 12
    codestream = codecs.encode_frame(frame, HTJ2KLossless, ds)
    assert _siz_precision(codestream) == (16, dtype == "int16")
    assert np.array_equal(imagecodecs.htj2k_decode(codestream), frame)

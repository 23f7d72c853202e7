"""Every transfer syntax decodes: pydicom's and pydicom-data's test files, and synthetic images re-encoded.

Covered from test files (syntax: file):
  Implicit VR LE: MR_small_implicit.dcm; Explicit VR LE: CT_small.dcm, SC_rgb.dcm, OBXXXX1A.dcm (palette);
  Deflated Explicit VR LE: image_dfl.dcm; Explicit VR BE: MR_small_bigendian.dcm, SC_rgb_expb_16bit.dcm;
  RLE Lossless: MR_small_RLE.dcm, SC_rgb_rle.dcm; JPEG Baseline: SC_rgb_jpeg_dcmtk.dcm (YBR_FULL_422),
  color3d_jpeg_baseline.dcm (multi-frame); JPEG Extended: JPGExtended.dcm (12-bit);
  JPEG Lossless SV1: JPEG-LL.dcm, JPGLosslessP14SV1_1s_1f_8b.dcm; JPEG-LS Lossless:
  MR_small_jpeg_ls_lossless.dcm; JPEG-LS Near-Lossless: JPEGLSNearLossless_16.dcm, SC_rgb_jls_lossy_line.dcm;
  JPEG 2000 Lossless: MR_small_jp2klossless.dcm, US1_J2KR.dcm; JPEG 2000: JPEG2000.dcm, US1_J2KI.dcm.
HTJ2K (no test file ships) and JPEG Lossless (Process 14, any predictor) are covered by synthetic images.
"""

from __future__ import annotations

from typing import Any

import imagecodecs
import numpy as np
import pytest
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from bitewing.core.imaging import synthetic
from bitewing.core.imaging.decode import _native_single_sample, openjph_frames, stored_frames
from bitewing.core.imaging.transcode import lossless_archive
from bitewing.core.imaging.validate import parse_instance
from bitewing.core.imaging.window import display_frames

from .conftest import load_testdata

TEST_FILES = {
    "MR_small_implicit.dcm": ImplicitVRLittleEndian,
    "CT_small.dcm": ExplicitVRLittleEndian,
    "SC_rgb.dcm": ExplicitVRLittleEndian,
    "OBXXXX1A.dcm": ExplicitVRLittleEndian,
    "image_dfl.dcm": DeflatedExplicitVRLittleEndian,
    "MR_small_bigendian.dcm": ExplicitVRBigEndian,
    "SC_rgb_expb_16bit.dcm": ExplicitVRBigEndian,
    "MR_small_RLE.dcm": RLELossless,
    "SC_rgb_rle.dcm": RLELossless,
    "SC_rgb_jpeg_dcmtk.dcm": JPEGBaseline8Bit,
    "color3d_jpeg_baseline.dcm": JPEGBaseline8Bit,
    "JPGExtended.dcm": JPEGExtended12Bit,
    "JPEG-LL.dcm": JPEGLosslessSV1,
    "JPGLosslessP14SV1_1s_1f_8b.dcm": JPEGLosslessSV1,
    "MR_small_jpeg_ls_lossless.dcm": JPEGLSLossless,
    "JPEGLSNearLossless_16.dcm": JPEGLSNearLossless,
    "SC_rgb_jls_lossy_line.dcm": JPEGLSNearLossless,
    "MR_small_jp2klossless.dcm": JPEG2000Lossless,
    "US1_J2KR.dcm": JPEG2000Lossless,
    "JPEG2000.dcm": JPEG2000,
    "US1_J2KI.dcm": JPEG2000,
}


@pytest.mark.parametrize(("name", "syntax"), TEST_FILES.items())
def test_test_file_decodes(name: str, syntax: UID) -> None:
    ds = load_testdata(name)
    assert ds.file_meta.TransferSyntaxUID == syntax
    stored, _ = stored_frames(ds)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    assert stored.shape[:3] == (frames, ds.Rows, ds.Columns)
    display = display_frames(ds)
    assert display.dtype == np.uint8
    assert display.shape[:3] == (frames, ds.Rows, ds.Columns)
    assert display.std() > 3, "decoded content, not a flat field"


LOSSLESS = [
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEG2000Lossless,
    HTJ2KLossless,
]
LOSSY = {JPEGExtended12Bit: 6, JPEGLSNearLossless: 1, JPEG2000: 10, HTJ2K: 10}


@pytest.mark.parametrize("syntax", LOSSLESS)
@pytest.mark.parametrize("kind", ["intraoral", "panoramic", "cbct"])
def test_synthetic_lossless_round_trip(kind: synthetic.Kind, syntax: UID) -> None:
    """Encoded, written, parsed and displayed: exactly the display of the native original."""
    frames = 3 if kind == "cbct" else None
    shape = (64, 48)
    native = synthetic.make_instance(kind, shape=shape, frames=frames)
    encoded = synthetic.make_instance(kind, shape=shape, frames=frames, transfer_syntax=syntax)
    parsed = parse_instance(synthetic.to_bytes(encoded))
    assert parsed.file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(stored_frames(parsed)[0], stored_frames(native)[0])
    assert np.array_equal(display_frames(parsed), display_frames(native))


@pytest.mark.parametrize(("syntax", "tolerance"), LOSSY.items())
def test_synthetic_lossy_round_trip(syntax: UID, tolerance: int) -> None:
    native = synthetic.make_instance("intraoral", shape=(96, 64))
    encoded = synthetic.make_instance("intraoral", shape=(96, 64), transfer_syntax=syntax)
    parsed = parse_instance(synthetic.to_bytes(encoded))
    difference = np.abs(display_frames(parsed).astype(int) - display_frames(native))
    assert np.percentile(difference, 99) <= tolerance


def test_synthetic_jpeg_baseline_is_8_bit() -> None:
    ds = synthetic.make_instance("intraoral", shape=(96, 64), transfer_syntax=JPEGBaseline8Bit)
    parsed = parse_instance(synthetic.to_bytes(ds))
    assert (parsed.BitsAllocated, parsed.BitsStored) == (8, 8)
    native = display_frames(synthetic.make_instance("intraoral", shape=(96, 64)))
    assert np.percentile(np.abs(display_frames(parsed).astype(int) - native), 99) <= 8


def _pydicom_frames(ds: Any) -> np.ndarray:
    arr, _ = get_decoder(UID(ds.file_meta.TransferSyntaxUID)).as_array(ds, as_rgb=False)
    return arr.reshape(int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns))


@pytest.mark.parametrize(
    ("allocated", "stored", "signed", "frames", "syntax"),
    [
        (16, 12, False, 1, ExplicitVRLittleEndian),
        (16, 12, True, 1, ExplicitVRLittleEndian),
        (16, 16, False, 1, ImplicitVRLittleEndian),
        (16, 15, True, 3, ExplicitVRLittleEndian),
        (8, 8, False, 1, ExplicitVRLittleEndian),
        (8, 6, True, 2, DeflatedExplicitVRLittleEndian),
        (8, 7, False, 1, ImplicitVRLittleEndian),
    ],
)
def test_native_path_equals_pydicoms_decoder_even_with_garbage_in_unused_bits(
    allocated: int, stored: int, signed: bool, frames: int, syntax: UID
) -> None:
    """Native frames are read straight from the buffer; what comes out must be exactly what pydicom's
    decoder makes of the same bytes: values, dtype, unused high bits cleared or sign-extended."""
    rng = np.random.default_rng(allocated * 100 + stored)
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    info = np.iinfo(dtype)
    raw = rng.integers(info.min, info.max, size=(frames, 9, 7), dtype=dtype, endpoint=True)
    ds = synthetic.make_instance("intraoral", shape=(9, 7))
    ds.file_meta.TransferSyntaxUID = syntax
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, stored, stored - 1
    ds.PixelRepresentation = int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = raw.tobytes() + (b"\0" if raw.nbytes % 2 else b"")
    ds = parse_instance(synthetic.to_bytes(ds))
    assert _native_single_sample(ds) is not None  # the direct path is the one under test
    ours, photometric = stored_frames(ds)
    reference = _pydicom_frames(ds)
    assert ours.dtype == reference.dtype and ours.dtype.isnative
    assert np.array_equal(ours, reference)
    assert photometric == ds.PhotometricInterpretation
    copied = not np.shares_memory(ours, np.frombuffer(ds.PixelData, np.uint8))
    assert copied == (stored < allocated)  # a copy only where bits had to be fixed
    if stored < allocated:
        assert not np.array_equal(ours, raw)  # the garbage was there, and it is gone


@pytest.mark.parametrize("signed", [False, True])
def test_clean_unsigned_frames_are_not_copied(signed: bool) -> None:
    """12-bit values with nothing in the unused bits: unsigned frames are the received buffer itself (a
    view), signed ones are sign-extended into a copy; both equal pydicom's decoding."""
    ds = synthetic.make_instance("intraoral", shape=(40, 30))
    if signed:
        ds.PixelRepresentation = 1
    ds = parse_instance(synthetic.to_bytes(ds))
    ours, _ = stored_frames(ds)
    assert np.array_equal(ours, _pydicom_frames(ds)) and ours.dtype == _pydicom_frames(ds).dtype
    assert np.shares_memory(ours, np.frombuffer(ds.PixelData, np.uint8)) == (not signed)


def test_frames_beyond_number_of_frames_are_not_returned_by_either_path() -> None:
    """Pixel Data longer than the header's frames (a sender's padding or leftovers): both the direct path
    and pydicom's decoders return exactly Number of Frames frames."""
    for syntax in (ExplicitVRLittleEndian, ExplicitVRBigEndian):
        ds = synthetic.make_instance("intraoral", shape=(6, 5))
        ds.file_meta.TransferSyntaxUID = syntax
        ds.PixelData = ds.pixel_array.astype(">u2" if syntax == ExplicitVRBigEndian else "<u2").tobytes() * 3
        ds = parse_instance(synthetic.to_bytes(ds))
        if syntax == ExplicitVRBigEndian:  # pydicom's decoder says what it drops
            with pytest.warns(UserWarning, match="excess padding"):
                frames, _ = stored_frames(ds)
        else:
            frames, _ = stored_frames(ds)
        assert frames.shape == (1, 6, 5)


@pytest.mark.parametrize(
    ("allocated", "stored", "signed", "frames"),
    [(16, 12, False, 1), (16, 12, True, 1), (16, 16, True, 3), (16, 16, False, 1), (8, 8, False, 2)],
)
def test_htj2k_lossless_archives_decode_through_openjph_as_pydicom_decodes_them(
    allocated: int, stored: int, signed: bool, frames: int
) -> None:
    """Archives as `lossless_archive` writes them take the OpenJPH path, which must give exactly the values
    and type pydicom's own (OpenJPEG) decoder gives, and the original stored values."""
    rng = np.random.default_rng(allocated * 100 + stored + signed)
    low, high = (-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed else (0, (1 << stored) - 1)
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    raw = rng.integers(low, high, size=(frames, 33, 47), dtype=dtype, endpoint=True)
    ds = synthetic.make_instance("intraoral", shape=(33, 47))
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, stored, stored - 1
    ds.PixelRepresentation = int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = raw.tobytes() + (b"\0" if raw.nbytes % 2 else b"")
    archive, syntax = lossless_archive(parse_instance(synthetic.to_bytes(ds)))
    assert syntax == HTJ2KLossless
    archived = parse_instance(archive)
    ours = openjph_frames(archived)
    assert ours is not None  # the path under test
    reference = _pydicom_frames(archived)
    assert ours.dtype == reference.dtype and np.array_equal(ours, reference)
    assert np.array_equal(ours, raw)
    assert np.array_equal(stored_frames(archived)[0], raw)


def test_htj2k_values_beyond_bits_stored_are_left_to_pydicom() -> None:
    """A 12-bit header over a codestream holding 16-bit values (another sender's HTJ2K): not the OpenJPH
    path's to interpret, so pydicom's decoder decides."""
    ds = synthetic.make_instance("intraoral", shape=(16, 16))
    codestream = imagecodecs.htj2k_encode(np.full((16, 16), 5000, np.uint16), level=None, reversible=True)
    ds.file_meta.TransferSyntaxUID = HTJ2KLossless
    ds.PixelData = encapsulate([bytes(codestream)])
    ds["PixelData"].VR = "OB"
    received = parse_instance(synthetic.to_bytes(ds))
    assert openjph_frames(received) is None
    assert np.array_equal(stored_frames(received)[0], _pydicom_frames(received))

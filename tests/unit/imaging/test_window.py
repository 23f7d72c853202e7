"""display_frames agrees with pydicom's Modality LUT + VOI LUT reference within one grey level."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEGLSLossless

from bitewing.core.imaging import synthetic, window
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.window import AUTO_PERCENTILES, display_frames, greyscale_table

from ._reference import max_grey_difference, reference_display
from .conftest import load_testdata


def _add_window(ds: Dataset, width_fraction: float = 0.6) -> None:
    """A window around the middle of the image's modality values, for files that carry none."""
    from pydicom.pixels import apply_modality_lut

    values = apply_modality_lut(ds.pixel_array, ds)
    low, high = np.percentile(values, [1, 99])
    ds.WindowCenter = float(round((low + high) / 2, 2))
    ds.WindowWidth = float(max(2.0, round((high - low) * width_fraction, 2)))


def _assert_matches_reference(ds: Dataset) -> None:
    ours = display_frames(ds)
    stored = ds.pixel_array
    reference = reference_display(ds, stored)
    assert ours.shape[1:] == stored.shape[-2:]
    assert max_grey_difference(ours.reshape(stored.shape), reference) <= 1.0
    assert ours.std() > 5, "the window must leave visible contrast"


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",  # signed 16-bit, window
        "693_UNCI.dcm",  # signed 14-bit, rescale -1024, narrow window
        "MR2_UNCI.dcm",  # fractional rescale slope and intercept
        "RG1_UNCI.dcm",  # MONOCHROME1, 15-bit CR
        "RG3_UNCI.dcm",  # MONOCHROME1, 10-bit CR
        "vlut_04.dcm",  # VOI LUT Sequence
    ],
)
def test_matches_pydicom_reference(name: str) -> None:
    _assert_matches_reference(load_testdata(name))


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "mlut_18.dcm", "emri_small_big_endian.dcm", "JPGExtended.dcm"]
)
def test_matches_reference_with_added_window(name: str) -> None:
    ds = load_testdata(name)  # rescale + signed; Modality LUT Sequence; big endian multi-frame; 12-bit JPEG
    _add_window(ds)
    _assert_matches_reference(ds)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("monochrome1", [False, True])
def test_synthetic_voi_functions(function: str, monochrome1: bool) -> None:
    ds = synthetic.make_instance("intraoral", shape=(120, 90), monochrome1=monochrome1)
    ds.VOILUTFunction = function
    _assert_matches_reference(ds)


def test_signed_rescaled_volume(small_cbct: Dataset) -> None:
    """Enhanced CT keeps rescale and window in functional groups; the reference gets them top level."""
    ours = display_frames(small_cbct)
    flat = small_cbct.copy()
    transform = small_cbct.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    voi = small_cbct.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
    flat.RescaleSlope, flat.RescaleIntercept = transform.RescaleSlope, transform.RescaleIntercept
    flat.WindowCenter, flat.WindowWidth = voi.WindowCenter, voi.WindowWidth
    reference = reference_display(flat, small_cbct.pixel_array)
    assert ours.shape == (12, 48, 40)
    assert small_cbct.pixel_array.min() < 0, "the synthetic volume exercises negative stored values"
    assert max_grey_difference(ours, reference) <= 1.0


def test_vendor_panoramic_window_in_rescaled_units() -> None:
    """A panoramic as some vendors send it, which naive viewers show wrong: MONOCHROME1 with Presentation
    LUT Shape INVERSE (inverted once, not twice), a rescale that puts the window in modality units, two
    window presets (the first is the one to use) and a SIGMOID VOI LUT Function."""
    ds = synthetic.make_instance("panoramic", shape=(150, 290), monochrome1=True)
    ds.RescaleSlope, ds.RescaleIntercept = 0.25, -2048
    modality = ds.pixel_array * 0.25 - 2048
    ds.WindowCenter = [float(np.median(modality)), 0.0]
    ds.WindowWidth = [float(np.ptp(modality) * 0.5), 100.0]
    ds.VOILUTFunction = "SIGMOID"
    ours = display_frames(ds)[0]
    assert max_grey_difference(ours, reference_display(ds, ds.pixel_array)) <= 1.0
    stored = ds.pixel_array.astype(np.float64)
    naive = np.clip((stored - ds.WindowCenter[0]) / ds.WindowWidth[0] + 0.5, 0, 1) * 255
    assert np.abs(ours - naive).mean() > 40, "the naive stored-value window must be visibly wrong here"


def test_auto_window_uses_robust_percentiles(intraoral: Dataset) -> None:
    del intraoral.WindowCenter
    del intraoral.WindowWidth
    ours = display_frames(intraoral)[0].astype(np.float64)
    low, high = np.percentile(intraoral.pixel_array, AUTO_PERCENTILES)
    expected = np.clip((intraoral.pixel_array - low) / (high - low), 0, 1) * 255
    assert np.abs(ours - expected).max() <= 3.0
    assert 0.002 < np.mean(ours == 0) < 0.02
    assert 0.002 < np.mean(ours == 255) < 0.02


def test_auto_window_for_32_bit_data() -> None:
    ds = load_testdata("rtdose.dcm")
    ours = display_frames(ds)
    assert ours.shape == (15, 10, 10)
    assert ours.dtype == np.uint8
    assert ours.min() == 0
    assert ours.max() == 255


def test_display_is_a_table_lookup(intraoral: Dataset) -> None:
    stored, _ = stored_frames(intraoral)
    table = greyscale_table(intraoral, stored.dtype, stored)
    assert table.shape == (1 << intraoral.BitsStored,) == (4096,)
    assert table.dtype == np.uint8
    assert np.array_equal(display_frames(intraoral), table[stored])


def test_signed_data_gets_a_table_of_every_bit_pattern() -> None:
    ds = load_testdata("CT_small.dcm")  # signed 16-bit
    stored, _ = stored_frames(ds)
    table = greyscale_table(ds, stored.dtype, stored)
    assert table.shape == (65536,)
    assert np.array_equal(display_frames(ds), table[stored.view(np.uint16)])


@pytest.mark.parametrize(
    "name", ["SC_rgb.dcm", "SC_ybr_full_uncompressed.dcm", "SC_rgb_jpeg_dcmtk.dcm", "US1_J2KR.dcm"]
)
def test_colour_to_rgb(name: str) -> None:
    ds = load_testdata(name)
    ours = display_frames(ds)
    reference = ds.pixel_array  # pydicom converts YBR to RGB by default
    assert ours.shape[-1] == 3
    assert np.abs(ours[0].astype(int) - reference.reshape(ours[0].shape)).max() <= 1


def test_palette_colour() -> None:
    from pydicom.pixels import apply_color_lut

    ds = load_testdata("OBXXXX1A.dcm")
    ours = display_frames(ds)[0]
    reference = apply_color_lut(ds.pixel_array, ds)
    scale = 257 if reference.dtype == np.uint16 else 1
    assert np.abs(ours.astype(int) - reference.astype(int) // scale).max() <= 1


def test_sixteen_bit_rgb_scaled_down() -> None:
    ds = load_testdata("SC_rgb_16bit.dcm")
    assert np.array_equal(display_frames(ds)[0], (ds.pixel_array >> 8).astype(np.uint8))


def test_compressed_data_gets_a_full_table_so_values_above_bits_stored_are_not_clipped(
    intraoral: Dataset,
) -> None:
    """A JPEG-LS or JPEG 2000 codestream may hold values above what Bits Stored claims (decoders do not clear
    them as they do for native data): they must be windowed as they are, not read as the largest value."""
    compressed = intraoral.copy()
    compressed.file_meta = intraoral.file_meta.copy()
    compressed.file_meta.TransferSyntaxUID = JPEGLSLossless
    compressed.WindowCenter, compressed.WindowWidth = 6000, 2000
    stored = np.array([[[100, 4095, 5500, 6500, 7000]]], dtype=np.uint16)
    table = greyscale_table(compressed, stored.dtype, stored)
    assert table.shape == (65536,)
    shown = display_frames(compressed, (stored, "MONOCHROME2"))[0, 0]
    assert list(shown[:2]) == [0, 0] and 0 < shown[2] < shown[3] < 255 and shown[4] == 255


def _ramp_of(ds: Dataset, stored: np.ndarray) -> object:
    """The OpenCV ramp `display_function` would use for `stored`, or None when it looks values up."""
    domain, levels = window._domain_levels(ds, stored.dtype, stored)
    return window._ramp(domain, levels, window._table(levels, window.inverts(ds)), window.inverts(ds))


def _every_stored_value(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    return window._domain_levels(ds, stored.dtype, stored)[0]


def _intraoral(function: str = "LINEAR", *, monochrome1: bool = False, window_preset: bool = True) -> Dataset:
    ds = synthetic.make_instance("intraoral", shape=(120, 90), monochrome1=monochrome1)
    ds.VOILUTFunction = function
    if not window_preset:
        del ds.WindowCenter, ds.WindowWidth
    return ds


def _windowed_ct() -> Dataset:
    ds = load_testdata("CT_small.dcm")
    _add_window(ds)
    return ds


def _steep_eight_bit() -> Dataset:
    ds = synthetic.make_instance("intraoral", shape=(120, 90))
    eight_bit = (ds.pixel_array >> 4).astype(np.uint8)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelData = eight_bit.tobytes()
    ds.WindowCenter, ds.WindowWidth = 128, 100
    return ds


DISPLAY_CASES: dict[str, tuple[Callable[[], Dataset], bool | None]] = {
    "intraoral 12-bit, linear window": (_intraoral, True),
    "intraoral MONOCHROME1": (lambda: _intraoral(monochrome1=True), True),
    "intraoral, no window (automatic)": (lambda: _intraoral(window_preset=False), True),
    # its centre value falls on a rounding tie, which OpenCV's float32 may round either way
    "intraoral, LINEAR_EXACT": (lambda: _intraoral("LINEAR_EXACT"), None),
    "intraoral, SIGMOID": (lambda: _intraoral("SIGMOID"), False),
    "CT signed, rescaled, window": (_windowed_ct, True),
    "8-bit, window narrower than the values (steeper than one grey per value)": (_steep_eight_bit, False),
    "VOI LUT Sequence holding a straight line (vlut_04)": (lambda: load_testdata("vlut_04.dcm"), True),
}
"""Datasets and whether their display table is a ramp OpenCV computes (None: not asserted)."""


@pytest.mark.parametrize("case", DISPLAY_CASES)
def test_display_function_equals_the_table_and_computes_linear_chains(case: str) -> None:
    """Where the display chain is linear the values are computed by OpenCV (fast), elsewhere looked up; either
    way every stored value shows exactly as the table says, in a whole frame and in small pieces."""
    make, ramp = DISPLAY_CASES[case]
    ds = make()
    stored, _ = stored_frames(ds)
    table = greyscale_table(ds, stored.dtype, stored)
    unsigned = f"u{stored.dtype.itemsize}"
    assert ramp is None or (_ramp_of(ds, stored) is not None) is ramp
    show = window.display_function(ds, stored.dtype, stored)
    every = _every_stored_value(ds, stored)
    assert np.array_equal(show(every), table[every.view(unsigned)])
    assert np.array_equal(show(stored), table[stored.view(unsigned)])
    assert np.array_equal(show(stored[0, :3, :5]), table[stored[0, :3, :5].view(unsigned)])
    assert np.array_equal(display_frames(ds), table[stored.view(unsigned)])


def test_ramp_clamps_values_past_the_table_like_the_lookup(intraoral: Dataset) -> None:
    """Compressed data may hold values above Bits Stored; a ramp that is not yet white at the table's last
    entry must show them as that entry, as the lookup does, not continue brighter."""
    intraoral.WindowCenter, intraoral.WindowWidth = 4000, 1000  # white only above 4500 > 4095
    stored = np.array([[[0, 2000, 3600, 4095] * 20]], dtype=np.uint16)
    domain, levels = window._domain_levels(intraoral, stored.dtype, stored)
    table = window._table(levels, False)
    ramp = window._ramp(domain, levels, table, False)
    assert ramp is not None and table[-1] < 255
    beyond = np.array([[4095, 4200, 8000, 65535] * 20], dtype=np.uint16)
    assert np.array_equal(ramp(beyond), window.apply_table(table, beyond))

"""Decode the pixel data of any transfer syntax pydicom and its installed plugins support.

Native single-sample data (what X-ray sensors send: uncompressed 8- or 16-bit greyscale) takes a direct
path: one numpy pass over the received buffer instead of pydicom's copy and two in-place shifts. It gives
exactly what pydicom's decoder gives (unused high bits cleared, or sign-extended for signed data). When no
bit needs clearing (none is allocated unused, or no unsigned value has one set) the frames are a read-only
view of the received buffer, not a copy.

HTJ2K Lossless (Bitewing's archive syntax) takes OpenJPH through imagecodecs, for single-sample data whose
values the codestream holds in the dataset's Bits Stored: the reversible wavelet makes every decoder give the
same values, and OpenJPH decodes a 2 MP frame 5-8 times faster than pydicom's OpenJPEG plugin.
"""

from __future__ import annotations

from typing import Any

import imagecodecs
import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
)

_LITTLE_ENDIAN_NATIVE = frozenset(
    {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)


_REVERSIBLE_HTJ2K = frozenset({HTJ2KLossless, HTJ2KLosslessRPCL})


def _single_sample_layout(
    ds: Dataset, syntaxes: frozenset[UID]
) -> tuple[int, int, int, np.dtype[Any], int] | None:
    """(frames, rows, cols, little-endian sample type, Bits Stored) of 8/16-bit single-sample pixel data in
    one of `syntaxes`, or None."""
    if UID(ds.file_meta.TransferSyntaxUID) not in syntaxes:
        return None
    allocated = int(ds.get("BitsAllocated", 0) or 0)
    if "PixelData" not in ds or allocated not in (8, 16) or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        return None
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    stored = int(ds.get("BitsStored", allocated) or allocated)
    return int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns), dtype, stored


def openjph_frames(ds: Dataset) -> np.ndarray | None:
    """(frames, rows, cols) stored values of single-sample HTJ2K Lossless pixel data, decoded by OpenJPH;
    None for any other data, or when a frame is not what the header says (type, shape, values beyond Bits
    Stored): pydicom's decoders handle those."""
    layout = _single_sample_layout(ds, _REVERSIBLE_HTJ2K)
    if layout is None:
        return None
    count, rows, columns, dtype, bits = layout
    try:
        fragments = list(generate_frames(ds.PixelData, number_of_frames=count))
    except ValueError:
        return None
    if len(fragments) != count:
        return None
    signed = dtype.kind == "i"
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    out = np.empty((count, rows, columns), dtype.newbyteorder("="))
    for index, fragment in enumerate(fragments):
        frame = imagecodecs.htj2k_decode(fragment)
        if (
            frame.shape != (rows, columns)
            or frame.dtype.kind != dtype.kind
            or frame.itemsize > dtype.itemsize
        ):
            return None
        if frame.size and (int(frame.max()) > high or (signed and int(frame.min()) < low)):
            return None
        out[index] = frame
    return out


def _native_single_sample(ds: Dataset) -> np.ndarray | None:
    """(frames, rows, cols) stored values of native little-endian 8/16-bit single-sample pixel data, or None
    when the instance is anything else (left to pydicom's decoders)."""
    layout = _single_sample_layout(ds, _LITTLE_ENDIAN_NATIVE)
    if layout is None:
        return None
    frames, rows, columns, dtype, stored = layout
    allocated, signed = dtype.itemsize * 8, dtype.kind == "i"
    count = frames * rows * columns
    if len(ds.PixelData) < count * dtype.itemsize:
        return None
    raw = np.frombuffer(ds.PixelData, dtype=dtype, count=count).reshape(frames, rows, columns)
    unused = allocated - stored
    if unused <= 0:
        return raw if dtype.isnative else raw.astype(dtype.newbyteorder("="))
    if not signed:
        mask = (1 << (allocated - unused)) - 1
        return raw if int(raw.max(initial=0)) <= mask else np.bitwise_and(raw, np.array(mask, dtype))
    shifted = np.left_shift(raw, unused)
    return np.right_shift(shifted, unused, out=shifted)


def stored_frames(ds: Dataset) -> tuple[np.ndarray, str]:
    """Stored values of every frame as (frames, rows, cols[, samples]) in native byte order, without colour
    conversion, and the photometric interpretation they are in (a decoder may report a different one
    than the header, e.g. RGB for a JPEG it colour-converted itself)."""
    native = _native_single_sample(ds)
    if native is None:
        native = openjph_frames(ds)
    if native is not None:
        return native, str(ds.PhotometricInterpretation)
    decoder = get_decoder(UID(ds.file_meta.TransferSyntaxUID))
    arr, meta = decoder.as_array(ds, as_rgb=False, allow_excess_frames=False)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if arr.ndim == (3 if samples > 1 else 2):
        arr = arr[np.newaxis]
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr, str(meta.get("photometric_interpretation", ds.PhotometricInterpretation))

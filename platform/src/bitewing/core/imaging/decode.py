"""Decode the pixel data of any transfer syntax pydicom and its installed plugins support.

Native single-sample data (what X-ray sensors send: uncompressed 8- or 16-bit greyscale) takes a direct
path: one numpy pass over the received buffer instead of pydicom's copy and two in-place shifts. It gives
exactly what pydicom's decoder gives (unused high bits cleared, or sign-extended for signed data). When no
bit needs clearing (none is allocated unused, or no unsigned value has one set) the frames are a read-only
view of the received buffer, not a copy.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

_LITTLE_ENDIAN_NATIVE = frozenset(
    {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)


def _native_single_sample(ds: Dataset) -> np.ndarray | None:
    """(frames, rows, cols) stored values of native little-endian 8/16-bit single-sample pixel data, or None
    when the instance is anything else (left to pydicom's decoders)."""
    if UID(ds.file_meta.TransferSyntaxUID) not in _LITTLE_ENDIAN_NATIVE or "PixelData" not in ds:
        return None
    allocated = int(ds.get("BitsAllocated", 0) or 0)
    if allocated not in (8, 16) or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        return None
    rows, columns = int(ds.Rows), int(ds.Columns)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    count = frames * rows * columns
    if len(ds.PixelData) < count * dtype.itemsize:
        return None
    raw = np.frombuffer(ds.PixelData, dtype=dtype, count=count).reshape(frames, rows, columns)
    unused = allocated - int(ds.get("BitsStored", allocated) or allocated)
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

"""Decode the pixel data of any transfer syntax pydicom and its installed plugins support."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID


def stored_frames(ds: Dataset) -> tuple[np.ndarray, str]:
    """Stored values of every frame as (frames, rows, cols[, samples]) in native byte order, without colour
    conversion, and the photometric interpretation they are in (a decoder may report a different one
    than the header, e.g. RGB for a JPEG it colour-converted itself)."""
    decoder = get_decoder(UID(ds.file_meta.TransferSyntaxUID))
    arr, meta = decoder.as_array(ds, as_rgb=False)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if arr.ndim == (3 if samples > 1 else 2):
        arr = arr[np.newaxis]
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr, str(meta.get("photometric_interpretation", ds.PhotometricInterpretation))

"""The reference display pipeline built from pydicom's own functions, to compare `window` against."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut


def _window_output_range(ds: Dataset) -> tuple[float, float]:
    """The output range pydicom's apply_windowing maps a window onto (PS3.3 C.11.2.1.2, as pydicom does)."""
    if ds.get("ModalityLUTSequence"):
        return 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    bits = int(ds.BitsStored)
    low, high = (
        (0.0, 2.0**bits - 1)
        if int(ds.PixelRepresentation) == 0
        else (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1)
    )
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        low, high = low * slope + intercept, high * slope + intercept
    return low, high


def reference_display(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    """apply_modality_lut + apply_voi_lut, scaled to 8 bits over the VOI output range, inverted for
    MONOCHROME1 / INVERSE; float so that callers can compare with a tolerance."""
    voi = apply_voi_lut(apply_modality_lut(stored, ds), ds).astype(np.float64)
    if ds.get("VOILUTSequence"):
        low, high = 0.0, float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    else:
        low, high = _window_output_range(ds)
    scaled = (voi - low) / (high - low) * 255.0
    invert = ds.PhotometricInterpretation == "MONOCHROME1" or ds.get("PresentationLUTShape") == "INVERSE"
    return 255.0 - scaled if invert else scaled


def max_grey_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference in grey levels."""
    return float(np.max(np.abs(ours.astype(np.float64) - reference)))

"""Stored pixel values to 8-bit display values, as a viewer shows them.

Greyscale: Modality LUT (rescale or LUT sequence) → VOI (VOI LUT sequence, else the first window preset with
its VOI LUT Function, else a robust automatic window) → MONOCHROME1 / Presentation LUT Shape INVERSE
inversion. The whole chain is evaluated once per possible stored value into a uint8 lookup table, and
every pixel is then a single table lookup; no per-pixel float math. Where the table is a straight ramp (a
linear chain: the usual case), OpenCV computes it instead, checked beforehand to give exactly the table's
value for every stored value (`display_function`). Colour (RGB, YBR_* decoded to RGB, PALETTE COLOR)
becomes 8-bit RGB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space
from pydicom.uid import UID

from bitewing.core.imaging.decode import stored_frames

AUTO_PERCENTILES = (0.5, 99.5)
"""Percentiles of the modality values that bound the automatic window when the instance has none."""

_AUTO_SAMPLE_PIXELS = 262_144
WINDOW_SAMPLE_FRAMES = 8
"""Frames of a volume the automatic window is computed from (evenly spaced, ends included): the stored
renditions and any slice rendered later from the archive (WADO-RS rendered frames) read the same ones, so
they show the same grey for the same value without the whole volume being decoded again."""
_GREYSCALE = ("MONOCHROME1", "MONOCHROME2")


def _first(value: object) -> float:
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        return float(value[0])
    return float(value)  # type: ignore[arg-type]


def _functional_item(ds: Dataset, sequence: str) -> Dataset | None:
    """The first item of `sequence` in the shared, else the first per-frame, functional groups."""
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in (ds.get(groups) or [])[:1]:
            items = group.get(sequence)
            if items:
                return items[0]
    return None


def _lut(item: Dataset) -> tuple[np.ndarray, int, int]:
    """A LUT item's data (as integers), first mapped input value and bits per entry."""
    entries, first, bits = (int(v) for v in item.LUTDescriptor)
    data = item.LUTData
    if isinstance(data, bytes | bytearray):
        data = np.frombuffer(data, dtype="<u2" if bits > 8 else np.uint8)
    table = np.asarray(data, dtype=np.float64)
    if entries:
        table = table[:entries]
    return table, first, bits


def _apply_lut(values: np.ndarray, item: Dataset) -> tuple[np.ndarray, int]:
    table, first, bits = _lut(item)
    index = np.clip(np.rint(values - first), 0, len(table) - 1).astype(np.intp)
    return table[index], bits


def modality_values(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    """Modality LUT output (e.g. Hounsfield units) for `stored` values, as float64."""
    values = stored.astype(np.float64)
    if ds.get("ModalityLUTSequence"):
        return _apply_lut(values, ds.ModalityLUTSequence[0])[0]
    source: Dataset | None = ds if "RescaleSlope" in ds or "RescaleIntercept" in ds else None
    source = source or _functional_item(ds, "PixelValueTransformationSequence")
    if source is None:
        return values
    slope = float(source.get("RescaleSlope", 1) or 1)
    intercept = float(source.get("RescaleIntercept", 0) or 0)
    return values * slope + intercept


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """PS3.3 C.11.2.1.2 and C.11.2.1.3: window output normalised to [0, 1]."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    center, width = center - 0.5, width - 1.0
    if width <= 0:
        return (values > center).astype(np.float64)
    below = values <= center - width / 2
    above = values > center + width / 2
    return np.where(below, 0.0, np.where(above, 1.0, (values - center) / width + 0.5))


def _window_preset(ds: Dataset) -> tuple[float, float, str] | None:
    source: Dataset | None = ds if "WindowCenter" in ds and "WindowWidth" in ds else None
    source = source or _functional_item(ds, "FrameVOILUTSequence")
    if source is None or source.get("WindowCenter") in (None, "") or source.get("WindowWidth") in (None, ""):
        return None
    center, width = _first(source.WindowCenter), _first(source.WindowWidth)
    function = str(source.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    if width < (1 if function == "LINEAR" else np.finfo(float).tiny):
        return None
    return center, width, function


def _sample(stored: np.ndarray) -> np.ndarray:
    """A regular subsample of all frames, large enough for stable percentiles."""
    step = max(1, int(np.sqrt(stored.size / _AUTO_SAMPLE_PIXELS)))
    return stored[..., ::step, ::step]


def window_sample(count: int, size: int = WINDOW_SAMPLE_FRAMES) -> list[int]:
    """The 0-based indices of at most `size` evenly spaced frames of `count`, first and last included."""
    if count <= size:
        return list(range(count))
    return sorted({round(i * (count - 1) / (size - 1)) for i in range(size)})


def needs_auto_window(ds: Dataset) -> bool:
    """True when the instance has neither a VOI LUT Sequence nor a usable window preset."""
    return not ds.get("VOILUTSequence") and _window_preset(ds) is None


def voi_normalised(ds: Dataset, modality: np.ndarray, sample: np.ndarray | None = None) -> np.ndarray:
    """VOI output in [0, 1] for `modality` values.

    `sample` (modality values of the image) drives the automatic window used when `needs_auto_window`.
    """
    if ds.get("VOILUTSequence"):
        out, bits = _apply_lut(modality, ds.VOILUTSequence[0])
        return out / float((1 << bits) - 1)
    preset = _window_preset(ds)
    if preset is not None:
        return _window(modality, *preset)
    sample = modality if sample is None or not sample.size else sample
    low, high = np.percentile(sample, AUTO_PERCENTILES)
    if high <= low:
        high = low + 1.0
    return np.clip((modality - low) / (high - low), 0.0, 1.0)


def inverts(ds: Dataset) -> bool:
    """MONOCHROME1, or a Presentation LUT Shape of INVERSE, displays minimum values white."""
    shape = str(ds.get("PresentationLUTShape", "") or "").strip().upper()
    return str(ds.PhotometricInterpretation).strip() == "MONOCHROME1" or shape == "INVERSE"


def _table_entries(ds: Dataset, dtype: np.dtype) -> int:
    """Stored values a display table must cover: 2^Bits Stored for unsigned native data (the decoder clears
    the unused high bits), else every bit pattern of `dtype` (signed data is sign-extended; a JPEG 2000 or
    JPEG-LS codestream may hold values above what Bits Stored claims, and they are shown as they are)."""
    width = 8 * dtype.itemsize
    bits = int(ds.get("BitsStored", width) or width)
    native = not UID(ds.file_meta.TransferSyntaxUID).is_compressed
    return 1 << (bits if native and dtype.kind == "u" and 0 < bits < width else width)


def _domain_levels(ds: Dataset, dtype: np.dtype, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every stored value a display table covers (in `dtype`, in the order of their unsigned bit
    patterns) and its display level in [0, 255] as a float, before rounding and inversion."""
    unsigned = np.dtype(f"u{dtype.itemsize}")
    stored = np.arange(_table_entries(ds, dtype), dtype=unsigned).view(dtype)
    modality = modality_values(ds, stored)
    sample_values = modality_values(ds, sample.ravel()) if needs_auto_window(ds) else None
    return stored, voi_normalised(ds, modality, sample_values) * 255.0


def _table(levels: np.ndarray, inverted: bool) -> np.ndarray:
    table = np.rint(levels).astype(np.uint8)
    return 255 - table if inverted else table


def greyscale_table(ds: Dataset, dtype: np.dtype, sample: np.ndarray) -> np.ndarray:
    """The uint8 display value of every possible stored value of an 8- or 16-bit `dtype`.

    The table is indexed by the stored value's unsigned bit pattern (so signed data indexes it through
    `arr.view(unsigned)`), which makes the display of a frame a single lookup (`apply_table`). For
    native unsigned data it has 2^Bits Stored entries: a 12-bit table fits in the CPU's first-level cache.
    """
    _, levels = _domain_levels(ds, dtype, sample)
    return _table(levels, inverts(ds))


_RAMP_MIN_PIXELS = 64
"""Smaller arrays are looked up in the table: OpenCV runs the scalar code of a row shorter than its vector
pair (16 values), which the ramp's check does not cover."""


def _ramp(
    stored: np.ndarray, levels: np.ndarray, table: np.ndarray, inverted: bool
) -> Callable[[np.ndarray], np.ndarray] | None:
    """`table` computed as OpenCV's saturating `|alpha x + beta|` of clamped stored values x, when that
    gives exactly the table for every stored value; else None.

    A linear chain (rescale, a linear or automatic window, inversion) makes the table such a ramp, and
    OpenCV maps a 2 MP frame in a fifth of the time of a numpy lookup. Values past the ramp's dark end are
    first clamped to one that shows black (|alpha x + beta| < 0.5: the absolute value would mirror them),
    and, where the ramp is not yet white at the table's last value, values past that are clamped to it
    (as the lookup reads its last entry). The check runs OpenCV's vector code, which a contiguous array
    of at least `_RAMP_MIN_PIXELS` values always takes.
    """
    inside = np.flatnonzero((levels > 0) & (levels < 255))
    if len(inside) < 2:
        return None
    values = stored[inside]
    first, last = inside[np.argmin(values)], inside[np.argmax(values)]
    alpha = float(levels[last] - levels[first]) / (float(stored[last]) - float(stored[first]))
    beta = float(levels[first]) - alpha * float(stored[first])
    if inverted:
        alpha, beta = -alpha, 255.0 - beta
    if not 0 < abs(alpha) <= 1:
        return None
    lowest, highest = int(stored.min()), int(stored.max())
    dark = min(max(round(-beta / alpha), lowest), highest)
    low, high = (dark, highest) if alpha > 0 else (lowest, dark)

    def ramp(plane: np.ndarray) -> np.ndarray:
        clamped = cv2.min(cv2.max(plane, low), high)
        return cv2.convertScaleAbs(clamped, alpha=alpha, beta=beta)

    if not np.array_equal(ramp(stored.reshape(1, -1)).ravel(), table):
        return None

    def show(values: np.ndarray) -> np.ndarray:
        return ramp(np.ascontiguousarray(values).reshape(1, -1)).reshape(values.shape)

    return show


def display_function(ds: Dataset, dtype: np.dtype, sample: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function giving the display values of stored values of an 8- or 16-bit integer `dtype` (any
    shape): `greyscale_table`'s values, looked up, or computed by OpenCV where the table is a ramp
    (`_ramp`) and the array holds at least `_RAMP_MIN_PIXELS` values."""
    stored, levels = _domain_levels(ds, dtype, sample)
    inverted = inverts(ds)
    table = _table(levels, inverted)
    unsigned = f"u{dtype.itemsize}"
    ramp = _ramp(stored, levels, table, inverted)

    def show(values: np.ndarray) -> np.ndarray:
        if ramp is not None and values.size >= _RAMP_MIN_PIXELS:
            return ramp(values)
        return apply_table(table, values.view(unsigned))

    return show


def _greyscale(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    if stored.ndim == 4:
        stored = stored[..., 0]
    if stored.dtype.itemsize > 2 or stored.dtype.kind == "f":
        modality = modality_values(ds, stored)
        out = voi_normalised(ds, modality, _sample(modality))
        out = np.rint(out * 255.0).astype(np.uint8)
        return 255 - out if inverts(ds) else out
    return display_function(ds, stored.dtype, _sample(stored))(stored)


_LOOKUP_CHUNK = 65_536
"""Pixels per `np.take` call of `apply_table`: numpy converts the indices of each call to intp (eight bytes
each); in chunks this scratch stays in cache instead of being a fresh 8x-sized array per frame."""


def apply_table(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """`table[index]` for unsigned integer `index` of any shape, computed chunk by chunk; an index past the
    table's end reads its last entry."""
    out = np.empty(index.shape, dtype=table.dtype)
    flat_index, flat_out = index.reshape(-1), out.reshape(-1)
    for start in range(0, flat_index.size, _LOOKUP_CHUNK):
        end = start + _LOOKUP_CHUNK
        np.take(table, flat_index[start:end], out=flat_out[start:end], mode="clip")
    return out


def greyscale_lookup(
    ds: Dataset, stored: tuple[np.ndarray, str]
) -> Callable[[np.ndarray], np.ndarray] | None:
    """For greyscale 8- or 16-bit integer frames (frames, rows, cols): a function that maps any slice of
    them to the display values `display_frames` gives (the same table), so that a caller who shows a few
    planes of a volume need not map every voxel. None for other data."""
    pixels, photometric = stored
    if photometric not in _GREYSCALE or pixels.ndim != 3 or pixels.dtype.kind not in "iu":
        return None
    if pixels.dtype.itemsize > 2:
        return None
    return display_function(ds, pixels.dtype, _sample(pixels[window_sample(len(pixels))]))


def _to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        return np.clip(np.rint(arr * 255.0 / max(float(arr.max()), 1.0)), 0, 255).astype(np.uint8)
    shift = max(0, bits - 8)
    return np.clip(arr.astype(np.int64) >> shift, 0, 255).astype(np.uint8)


def _palette(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    rgb = apply_color_lut(stored, ds)
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    return _to_uint8(rgb, 16 if bits > 8 and rgb.dtype != np.uint8 else 8)


def display_frames(ds: Dataset, stored: tuple[np.ndarray, str] | None = None) -> np.ndarray:
    """Every frame as uint8 display values: (frames, rows, cols) greyscale or (frames, rows, cols, 3) RGB.

    `stored` may pass frames already decoded (as `transcode.stored_frames` returns them, colour not
    converted) with their photometric interpretation, so a caller decodes only once.
    YBR colour is converted to RGB here.
    """
    pixels, photometric = stored if stored is not None else stored_frames(ds)
    if photometric.startswith("YBR") and pixels.ndim == 4:
        pixels, photometric = convert_color_space(pixels, photometric, "RGB", per_frame=True), "RGB"
    return _display(ds, pixels, photometric)


def _display(ds: Dataset, stored: np.ndarray, photometric: str) -> np.ndarray:
    if photometric in _GREYSCALE:
        return _greyscale(ds, stored)
    if photometric == "PALETTE COLOR":
        return _palette(ds, stored)
    return _to_uint8(stored, int(ds.get("BitsStored", 8) or 8))

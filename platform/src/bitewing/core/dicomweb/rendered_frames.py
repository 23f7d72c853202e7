"""WADO-RS rendered frames (PS3.18 §10.4.1.1.3): one frame of a stored instance as a picture, windowed
exactly as the renditions are (`imaging.window`: Modality LUT → VOI → inversion), so that any slice of a
CBCT volume can be looked at without the whole volume being decoded.

Only the header, the requested frame and, when the instance has no window of its own (no VOI LUT and no
usable window preset), the `window.WINDOW_SAMPLE_FRAMES` evenly spaced frames the automatic window comes
from are read and decoded. They are the frames the processing job took the renditions' window from, and
the same whichever frame is asked for: every slice of a volume shows the same grey for the same value as
its thumbnail and preview do (no flicker while scrolling).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import iter_pixels

from bitewing.core.dicomweb.retrieve import read_dataset
from bitewing.core.dicomweb.streams import seekable
from bitewing.core.imaging import render
from bitewing.core.imaging.window import (
    display_frames,
    greyscale_lookup,
    inverts,
    modality_values,
    needs_auto_window,
    voi_normalised,
    window_sample,
)

JPEG_QUALITY = 90
MEDIA_TYPES = ("image/jpeg", "image/png")
"""What a rendered frame can be sent as, the default first."""
_GREYSCALE = ("MONOCHROME1", "MONOCHROME2")


def parse_frame_number(value: str) -> int:
    """The 1-based frame number of a rendered frame's ``{frameList}`` segment (one frame only).

    :raises ValueError: when it is not one positive whole number.
    """
    if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) < 1:
        raise ValueError(f"a rendered frame is one frame number from 1, not {value[:60]!r}")
    return int(value)


def fit_viewport(width: int, height: int, viewport: tuple[int, int] | None) -> int | None:
    """The longest side of a `width` x `height` picture fitted into `viewport` (never enlarged; a zero
    viewport side does not constrain); None when it needs no scaling."""
    if not viewport:
        return None
    scales = [side / size for side, size in zip(viewport, (width, height), strict=True) if side > 0]
    if not scales or min(scales) >= 1:
        return None
    return max(1, int(max(width, height) * min(scales)))


def _decode(fp: BinaryIO, indices: list[int]) -> tuple[dict[int, np.ndarray], str]:
    """The frames at `indices` (0-based, stored values, one decoded at a time) and their photometric
    interpretation as decoded."""
    fp.seek(0)
    decoded = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays = [np.array(a) for a in iter_pixels(fp, indices=indices, as_rgb=False, ds_out=decoded)]
    return dict(zip(indices, arrays, strict=True)), str(decoded.get("PhotometricInterpretation", ""))


def display_frame(stream: BinaryIO, index: int) -> np.ndarray:
    """Frame `index` (0-based) of the stored instance in `stream` as uint8 display values (rows, cols) or
    (rows, cols, 3), with a window shared by every frame of the instance."""
    fp = seekable(stream)
    header = read_dataset(fp, header_only=True)
    count = int(header.get("NumberOfFrames", 1) or 1)
    if not 0 <= index < count:
        raise IndexError(f"no frame {index + 1}: the instance has {count}")
    sample = window_sample(count) if needs_auto_window(header) else []
    frames, photometric = _decode(fp, sorted({index, *sample}))
    photometric = photometric or str(header.PhotometricInterpretation)
    frame = frames[index]
    if photometric not in _GREYSCALE or frame.ndim != 2:
        return display_frames(header, (frame[np.newaxis], photometric))[0]
    volume = np.stack([frames[i] for i in sample]) if sample else frame[np.newaxis]
    lookup = greyscale_lookup(header, (volume, photometric))
    if lookup is not None:
        return lookup(frame)
    # 32-bit or floating-point data: no table, the same chain evaluated per pixel
    sample_values = modality_values(header, volume[:, ::4, ::4]) if sample else None
    out = np.rint(voi_normalised(header, modality_values(header, frame), sample_values) * 255.0)
    out = out.astype(np.uint8)
    return 255 - out if inverts(header) else out


def render_frame(
    open_stream: Callable[[], BinaryIO], index: int, media_type: str, viewport: tuple[int, int] | None
) -> bytes:
    """Frame `index` (0-based) of the stored instance windowed, fitted into `viewport` and encoded as
    `media_type` (one of `MEDIA_TYPES`: JPEG at quality `JPEG_QUALITY`, or PNG)."""
    with open_stream() as stream:
        display = display_frame(stream, index)
    picture = Image.fromarray(np.ascontiguousarray(display), "RGB" if display.ndim == 3 else "L")
    picture = render.downscale(picture, fit_viewport(picture.width, picture.height, viewport))
    return encode_picture(picture, media_type)


def encode_picture(picture: Image.Image, media_type: str) -> bytes:
    """`picture` as `media_type` (one of `MEDIA_TYPES`: JPEG at quality `JPEG_QUALITY`, or PNG)."""
    if media_type == "image/png":
        out = io.BytesIO()
        picture.save(out, "PNG")
        return out.getvalue()
    return render.encode(picture, "jpeg", JPEG_QUALITY)


def convert_rendition(data: bytes, media_type: str) -> bytes:
    """A stored rendition's encoded `data` (WebP, AVIF, ...) re-encoded as `media_type` (one of
    `MEDIA_TYPES`), for a client that cannot show the tenant's chosen format."""
    with Image.open(io.BytesIO(data)) as stored:
        picture = stored.convert("RGB" if stored.mode not in ("L", "RGB") else stored.mode)
    return encode_picture(picture, media_type)

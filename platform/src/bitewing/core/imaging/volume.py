"""A CBCT sent as one single-frame instance per slice (CT Image Storage), put back together for the
representative views an enhanced multi-frame volume gets from `pipeline.render_instance`: the middle axial,
coronal and sagittal planes side by side as thumbnail and preview, windowed with one table for the whole
volume. The slices stay images of their own; this only draws the series as one picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.part10 import without_pixel_data
from bitewing.core.imaging.render import (
    Rendition,
    RenditionSpec,
    orthogonal_slices,
    render_renditions,
    tile_views,
)
from bitewing.core.imaging.window import greyscale_lookup

MIN_VOLUME_SLICES = 8
"""Fewer single-frame CT instances in a series are shown one by one (a scout, a few reformats)."""

_SHARED = ("Rows", "Columns", "BitsAllocated", "PixelRepresentation", "PhotometricInterpretation")
_RESCALE = ("RescaleSlope", "RescaleIntercept")


class VolumeMismatch(ValueError):
    """The slices do not make one volume (different sizes, pixel types or rescale)."""


@dataclass(frozen=True)
class VolumeSlice:
    """One slice's place along the volume, its stored values and the header it came with (no pixel data)."""

    order: tuple[float, int]
    pixels: np.ndarray
    header: Dataset


def _floats(value: object, count: int) -> list[float] | None:
    try:
        numbers = [float(v) for v in value]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def slice_order(ds: Dataset) -> tuple[float, int]:
    """The sort key of a slice: its distance along the slice normal (Image Position (Patient) projected on
    the cross product of the row and column directions), then its Instance Number."""
    orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    position = _floats(ds.get("ImagePositionPatient"), 3)
    number = int(ds.get("InstanceNumber") or 0)
    if orientation is None or position is None:
        return 0.0, number
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(normal, position)), number


def volume_slice(ds: Dataset) -> VolumeSlice:
    """The slice `ds` (one greyscale frame) decoded to its stored values, with its header kept apart.

    :raises VolumeMismatch: when it is not one greyscale frame.
    """
    frames, photometric = stored_frames(ds)
    if len(frames) != 1 or frames.ndim != 3 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise VolumeMismatch("a volume slice must be one greyscale frame")
    return VolumeSlice(slice_order(ds), frames[0], without_pixel_data(ds))


def volume_renditions(slices: list[VolumeSlice], specs: tuple[RenditionSpec, ...]) -> list[Rendition]:
    """The downscaled renditions of `specs` (those with a `max_side`: thumbnail, preview) of the volume the
    slices make, in slice order: its middle axial, coronal and sagittal planes side by side.

    :raises VolumeMismatch: when the slices differ in size, pixel type or rescale.
    """
    if not slices:
        raise VolumeMismatch("no slices")
    ordered = sorted(slices, key=lambda s: s.order)
    for keywords in (_SHARED, _RESCALE):
        values = {tuple(str(s.header.get(k, "")) for k in keywords) for s in ordered}
        if len(values) > 1:
            raise VolumeMismatch(f"the slices differ in {', '.join(keywords)}")
    volume = np.stack([s.pixels for s in ordered])
    middle = ordered[len(ordered) // 2].header
    lookup = greyscale_lookup(middle, (volume, str(middle.PhotometricInterpretation)))
    if lookup is None:
        raise VolumeMismatch("only 8- and 16-bit greyscale slices make a volume")
    overview = tile_views(*(lookup(view) for view in orthogonal_slices(volume)))
    return render_renditions(overview, tuple(spec for spec in specs if spec.max_side is not None))

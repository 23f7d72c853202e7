"""Everything the platform derives from one received instance, as two pure steps.

`render_instance` is what a viewer waits for (facts and renditions); `archive_instance` is the lossless
archive copy, which nobody waits for. The processing jobs run them apart, renditions first, so a new
X-ray is listed before its archive copy is encoded and verified.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.facts import InstanceFacts, extract_facts
from bitewing.core.imaging.render import (
    DEFAULT_RENDITIONS,
    Rendition,
    RenditionSpec,
    cbct_views,
    orthogonal_slices,
    render_renditions,
    tile_views,
)
from bitewing.core.imaging.transcode import lossless_archive
from bitewing.core.imaging.validate import expected_native_length, parse_instance, read_accepted
from bitewing.core.imaging.window import display_frames, greyscale_lookup


@dataclass
class RenderedInstance:
    """Facts and renditions of an instance, with per-step timings in seconds; `dataset` is the instance as
    parsed (for callers that read more of its header)."""

    facts: InstanceFacts
    renditions: list[Rendition]
    original_pixel_bytes: int
    dataset: Dataset
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class ArchivedInstance:
    """The archive copy of an instance (Part-10 bytes, possibly the received bytes themselves)."""

    data: bytes
    transfer_syntax: str
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[step] = time.perf_counter() - start


def _views(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(image for thumbnail/preview, image for full or None when it is the same) of a display stack."""
    middle = frames[len(frames) // 2]
    if len(frames) == 1:
        return frames[0], None
    if frames.ndim == 3:
        return cbct_views(frames), middle
    return middle, None


def render_instance(
    data: bytes,
    *,
    default_image_type: str | None = None,
    rendition_specs: tuple[RenditionSpec, ...] = DEFAULT_RENDITIONS,
) -> RenderedInstance:
    """Validate, describe and render one received instance (Part-10 or raw dataset bytes).

    Multi-frame greyscale instances (CBCT volumes, series in one object) get their tiled orthogonal views
    as thumbnail and preview and their middle frame as the full rendition; multi-frame colour instances
    are represented by their middle frame.

    :raises validate.InvalidInstance: when the bytes are rejected (the reason says why).
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with _timed(timings, "parse"):
        ds = parse_instance(data)
    with _timed(timings, "facts"):
        facts = extract_facts(ds, default_image_type)
    with _timed(timings, "decode"):
        stored = stored_frames(ds)
    with _timed(timings, "display"):
        lookup = greyscale_lookup(ds, stored) if len(stored[0]) > 1 else None
        if lookup is not None:  # a volume: map only the three planes shown, not every voxel
            axial, coronal, sagittal = (lookup(view) for view in orthogonal_slices(stored[0]))
            overview, full = tile_views(axial, coronal, sagittal), axial
        else:
            overview, full = _views(display_frames(ds, stored))
    with _timed(timings, "render"):
        renditions = render_renditions(overview, rendition_specs, full_source=full)
    timings["total"] = time.perf_counter() - start
    return RenderedInstance(
        facts=facts,
        renditions=renditions,
        original_pixel_bytes=expected_native_length(ds),
        dataset=ds,
        timings=timings,
    )


def archive_instance(data: bytes) -> ArchivedInstance:
    """The lossless archive copy of one instance that `render_instance` accepted, verified bit-exact
    (`transcode.lossless_archive`); its checks are not run again.

    Lossy or already-archived input comes back as `data` itself (the same object), so a caller can tell
    that there is nothing new to store.

    :raises validate.InvalidInstance: when the bytes cannot be parsed.
    :raises transcode.ArchiveMismatch: when the encoded copy does not decode to the original values.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with _timed(timings, "parse"):
        ds = read_accepted(data)
    with _timed(timings, "archive"):
        archive, syntax = lossless_archive(ds, original=data)
    timings["total"] = time.perf_counter() - start
    return ArchivedInstance(data=archive, transfer_syntax=syntax, timings=timings)

"""render_instance and archive_instance end to end on received bytes."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import HTJ2KLossless, JPEGBaseline8Bit

from bitewing.core.imaging import synthetic
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.pipeline import archive_instance, render_instance
from bitewing.core.imaging.render import cbct_views, orthogonal_slices, tile_views
from bitewing.core.imaging.validate import InvalidInstance
from bitewing.core.imaging.window import display_frames, greyscale_lookup


def test_intraoral() -> None:
    ds = synthetic.make_instance("bitewing", sensor_size=1, teeth=["16", "46"])
    data = synthetic.to_bytes(ds)
    result = render_instance(data)
    assert result.facts.image_type == "bitewing"
    assert result.facts.teeth == ["16", "46"]
    assert [r.name for r in result.renditions] == ["thumbnail", "preview", "full"]
    assert result.original_pixel_bytes == 1000 * 1500 * 2
    assert sum(len(r.data) for r in result.renditions) <= 0.10 * result.original_pixel_bytes
    assert {"parse", "facts", "decode", "display", "render", "total"} <= set(result.timings)
    archive = archive_instance(data)
    assert archive.transfer_syntax == HTJ2KLossless
    archived = pydicom.dcmread(io.BytesIO(archive.data))
    assert np.array_equal(stored_frames(archived)[0][0], ds.pixel_array)
    assert {"parse", "archive", "total"} <= set(archive.timings)


def test_cbct_views_and_middle_slice() -> None:
    ds = synthetic.make_instance("cbct", shape=(64, 60), frames=40)
    data = synthetic.to_bytes(ds)
    result = render_instance(data)
    by_name = {r.name: r for r in result.renditions}
    assert (by_name["full"].width, by_name["full"].height) == (60, 64)
    assert (by_name["preview"].width, by_name["preview"].height) == (60 + 60 + 64, 64)
    assert result.facts.image_type == "cbct"
    assert result.original_pixel_bytes == 40 * 64 * 60 * 2
    assert pydicom.dcmread(io.BytesIO(archive_instance(data).data)).NumberOfFrames == 40


def test_volume_planes_mapped_alone_match_the_whole_volume_display() -> None:
    """The pipeline maps only the three shown planes of a volume; they equal the planes of the fully
    displayed volume, so thumbnail, preview and full are unchanged by the shortcut."""
    ds = synthetic.make_instance("cbct", shape=(48, 40), frames=12)
    stored = stored_frames(ds)
    lookup = greyscale_lookup(ds, stored)
    assert lookup is not None
    volume = display_frames(ds, stored)
    assert np.array_equal(tile_views(*(lookup(v) for v in orthogonal_slices(stored[0]))), cbct_views(volume))
    assert np.array_equal(lookup(stored[0][6]), volume[6])


def test_default_image_type_from_machine() -> None:
    ds = synthetic.make_instance("intraoral", shape=(40, 30))
    del ds.SeriesDescription
    assert (
        render_instance(synthetic.to_bytes(ds), default_image_type="periapical").facts.image_type
        == "periapical"
    )


def test_lossy_input_archived_as_received() -> None:
    data = synthetic.to_bytes(
        synthetic.make_instance("intraoral", shape=(40, 30), transfer_syntax=JPEGBaseline8Bit)
    )
    result = archive_instance(data)
    assert result.data is data
    assert result.transfer_syntax == JPEGBaseline8Bit


@pytest.mark.parametrize("step", [render_instance, archive_instance])
def test_rejects_bad_input(step: object) -> None:
    with pytest.raises(InvalidInstance) as caught:
        step(b"\x00" * 50)  # type: ignore[operator]
    assert caught.value.reason == "not_dicom"

"""A CBCT sent slice by slice is drawn as one volume: slice order, views, and slices that do not fit."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from bitewing.core.imaging import synthetic
from bitewing.core.imaging.render import DEFAULT_RENDITIONS
from bitewing.core.imaging.volume import VolumeMismatch, slice_order, volume_renditions, volume_slice


def test_slices_are_ordered_along_their_normal_then_by_instance_number() -> None:
    tilted = Dataset()
    tilted.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal slices: the normal is +y
    tilted.ImagePositionPatient = [5.0, 2.5, 9.0]
    tilted.InstanceNumber = 7
    assert slice_order(tilted) == (2.5, 7)
    bare = Dataset()
    bare.InstanceNumber = 3
    assert slice_order(bare) == (0.0, 3)


def test_the_views_come_out_the_same_whatever_order_the_slices_arrive_in() -> None:
    slices = synthetic.make_cbct_slices(12, shape=(48, 40))
    in_order = volume_renditions([volume_slice(ds) for ds in slices], DEFAULT_RENDITIONS)
    shuffled = volume_renditions([volume_slice(ds) for ds in slices[1::2] + slices[::2]], DEFAULT_RENDITIONS)
    assert [r.name for r in in_order] == ["thumbnail", "preview"]
    assert [r.data for r in shuffled] == [r.data for r in in_order]
    # axial (48 x 40), coronal (12 x 40) and sagittal (12 x 48) side by side
    assert (in_order[1].width, in_order[1].height) == (40 + 40 + 48, 48)
    for ds in slices:  # the same slices, positioned the other way up: the coronal and sagittal views flip
        ds.ImagePositionPatient = [0.0, 0.0, -float(ds.ImagePositionPatient[2])]
    flipped = volume_renditions([volume_slice(ds) for ds in slices], DEFAULT_RENDITIONS)
    assert flipped[1].data != in_order[1].data


def test_slices_that_do_not_make_one_volume_are_refused() -> None:
    slices = synthetic.make_cbct_slices(8, shape=(48, 40))
    other_size = synthetic.make_cbct_slices(1, shape=(40, 40))[0]
    with pytest.raises(VolumeMismatch, match="Rows"):
        volume_renditions([volume_slice(ds) for ds in [*slices, other_size]], DEFAULT_RENDITIONS)
    slices[3].RescaleIntercept = -1024
    with pytest.raises(VolumeMismatch, match="Rescale"):
        volume_renditions([volume_slice(ds) for ds in slices], DEFAULT_RENDITIONS)
    enhanced = synthetic.make_instance("cbct", shape=(16, 16), frames=3)
    with pytest.raises(VolumeMismatch, match="one greyscale frame"):
        volume_slice(enhanced)
    assert np.array_equal(volume_slice(slices[0]).pixels, slices[0].pixel_array)

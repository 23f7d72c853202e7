"""Targets receive the encoding they chose, as the same instance (same UIDs, same pixels)."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, HTJ2KLossless, ImplicitVRLittleEndian

from bitewing.core.deliveries.encoding import encode_for_target
from bitewing.core.imaging import synthetic
from bitewing.core.imaging.transcode import lossless_archive
from bitewing.core.plugins.connectors import TransferSyntaxPreference


@pytest.mark.parametrize(
    ("original", "preference", "expected"),
    [
        (ExplicitVRLittleEndian, TransferSyntaxPreference.LOSSLESS, HTJ2KLossless),
        (ExplicitVRLittleEndian, TransferSyntaxPreference.UNCOMPRESSED, ExplicitVRLittleEndian),
        (ImplicitVRLittleEndian, TransferSyntaxPreference.AS_RECEIVED, ImplicitVRLittleEndian),
    ],
)
def test_encoding_keeps_the_instance_identity_and_pixels(
    original: str, preference: str, expected: str
) -> None:
    ds = synthetic.make_instance("bitewing", shape=(128, 160), transfer_syntax=original)
    archive, archive_syntax = lossless_archive(pydicom.dcmread(BytesIO(synthetic.to_bytes(ds))))
    assert archive_syntax == HTJ2KLossless
    data, syntax = encode_for_target(archive, archive_syntax, original, TransferSyntaxPreference(preference))
    sent = pydicom.dcmread(BytesIO(data))
    assert syntax == expected
    assert sent.file_meta.TransferSyntaxUID == expected
    assert sent.SOPInstanceUID == ds.SOPInstanceUID
    assert sent.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert np.array_equal(sent.pixel_array, ds.pixel_array)


@pytest.mark.parametrize(
    ("kind", "shape"), [("intraoral", (96, 80)), ("cbct", None), ("panoramic", (75, 150))]
)
def test_uncompressed_copies_are_what_pydicoms_decompress_writes(
    kind: str, shape: tuple[int, int] | None
) -> None:
    """The OpenJPH path for greyscale HTJ2K archives writes the very bytes pydicom's decompress writes."""
    ds = synthetic.make_instance(kind, shape=shape)  # type: ignore[arg-type]
    archive, archive_syntax = lossless_archive(pydicom.dcmread(BytesIO(synthetic.to_bytes(ds))))
    assert archive_syntax == HTJ2KLossless
    data, _ = encode_for_target(
        archive, archive_syntax, ExplicitVRLittleEndian, TransferSyntaxPreference.UNCOMPRESSED
    )
    reference = pydicom.dcmread(BytesIO(archive))
    reference.decompress(generate_instance_uid=False)
    written = BytesIO()
    reference.save_as(written, enforce_file_format=True)
    assert data == written.getvalue()

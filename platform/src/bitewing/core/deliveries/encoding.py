"""Giving each target the encoding it asked for: the archive as stored, the original syntax, or uncompressed."""

from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom.uid import UID, ExplicitVRLittleEndian
from pydicom.valuerep import VR

from bitewing.core.imaging.decode import openjph_frames
from bitewing.core.plugins.connectors import TransferSyntaxPreference


def _native(data: bytes, transfer_syntax: UID) -> bytes:
    """Decode (keeping the instance's UIDs) and write uncompressed in `transfer_syntax`.

    Greyscale HTJ2K Lossless archives (most X-rays) are decoded by OpenJPH (`decode.openjph_frames`), the
    same values as pydicom's `decompress` gives in a fraction of its time; anything else by `decompress`.
    """
    ds = pydicom.dcmread(BytesIO(data))
    frames = openjph_frames(ds)
    if frames is not None:
        pixels = frames.astype(frames.dtype.newbyteorder("<"), copy=False).tobytes()
        element = ds["PixelData"]
        element.value = pixels + b"\0" * (len(pixels) % 2)
        element.is_undefined_length = False
        element.VR = VR.OB if int(ds.BitsAllocated) <= 8 else VR.OW
    elif ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def encode_for_target(
    archive: bytes, archive_syntax: str, original_syntax: str, preference: TransferSyntaxPreference
) -> tuple[bytes, str]:
    """The Part-10 bytes a target with `preference` receives, and their transfer syntax.

    The archive holds either the original bytes (lossy or already compressed originals) or a lossless
    transcode of a native original; "as received" therefore means decoding that transcode back to the
    original native syntax, which restores the exact pixel values.
    """
    archive_uid, original_uid = UID(archive_syntax), UID(original_syntax)
    if preference == TransferSyntaxPreference.LOSSLESS:
        return archive, archive_uid
    if preference == TransferSyntaxPreference.AS_RECEIVED:
        if archive_uid == original_uid or original_uid.is_compressed:
            return archive, archive_uid
        return _native(archive, original_uid), original_uid
    if not archive_uid.is_compressed:
        return archive, archive_uid
    return _native(archive, ExplicitVRLittleEndian), ExplicitVRLittleEndian

"""The lossless compressed archive copy of an instance, verified pixel for pixel before it is returned.

The archive syntax is HTJ2K lossless (chosen in docs/decisions/0003-lossless-archive-codec.md from
bench/results/imaging.md); JPEG-LS and RLE are fallbacks for data the first codec cannot hold. Frames are
encoded directly with the codec libraries (`codecs.encode_frame`) and encapsulated one frame per fragment
with a basic offset table. Lossy-compressed input is archived as received: re-encoding cannot restore what
the sender discarded, and the bytes received are the ones to keep.

When the received bytes are a Part-10 file in Explicit VR Little Endian whose last element is the native
Pixel Data (what devices send), the archive is spliced from them: the dataset's bytes are copied verbatim,
only the file meta and the Pixel Data element are written anew. That skips a pydicom write, which costs
tens of milliseconds for a volume's per-frame functional groups, and keeps every other byte as received.
"""

from __future__ import annotations

import io
import struct

import imagecodecs
import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID, ExplicitVRLittleEndian, HTJ2KLossless, JPEGLSLossless, RLELossless

from bitewing.core.imaging import codecs
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.part10 import file_meta_for, replace, shallow_copy, to_bytes

ARCHIVE_SYNTAX = HTJ2KLossless
FALLBACK_SYNTAXES = (JPEGLSLossless, RLELossless)


class ArchiveMismatch(RuntimeError):
    """The encoded archive does not decode to exactly the original stored values (a codec bug)."""


def _encoded(ds: Dataset, frames: np.ndarray, photometric: str, syntax: UID) -> tuple[Dataset, list[bytes]]:
    """A shallow copy of `ds` whose pixel data is `frames` encoded in `syntax`, and the frame codestreams."""
    out = shallow_copy(ds)
    replace(out.file_meta, "TransferSyntaxUID", syntax)
    replace(out, "PhotometricInterpretation", photometric)
    if int(out.get("SamplesPerPixel", 1) or 1) > 1:
        replace(out, "PlanarConfiguration", 0)
    fragments = [codecs.encode_frame(frame, syntax, out) for frame in frames]
    replace(out, "PixelData", encapsulate(fragments, has_bot=True))
    out["PixelData"].VR = "OB"
    return out, fragments


def _decoded_frames(archive: Dataset, fragments: list[bytes]) -> list[np.ndarray]:
    """Decode the archive's frames: HTJ2K straight from the codestreams with OpenJPH (the fastest decoder
    installed: twice pydicom's OpenJPEG path), anything else through pydicom's decoders."""
    if UID(archive.file_meta.TransferSyntaxUID) == HTJ2KLossless:
        return [imagecodecs.htj2k_decode(fragment, planar=False) for fragment in fragments]
    return list(stored_frames(archive)[0])


def verify(archive: Dataset, original: np.ndarray, fragments: list[bytes]) -> None:
    """Decode `archive` (whose frame codestreams are `fragments`) and compare with `original` exactly.

    Frame by frame, with no stacked copy of the decoded volume: each decoded frame must have the original
    frame's shape and type and equal it value for value.

    :raises ArchiveMismatch: on any difference in frame count, shape, type or value.
    """
    decoded = _decoded_frames(archive, fragments)
    same = len(decoded) == len(original) and all(
        frame.shape == expected.shape and frame.dtype == expected.dtype and np.array_equal(frame, expected)
        for frame, expected in zip(decoded, original, strict=False)
    )
    if not same:
        raise ArchiveMismatch(f"{UID(archive.file_meta.TransferSyntaxUID).name} archive is not bit-exact")


_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"
_META_GROUP_LENGTH = b"\x02\x00\x00\x00UL\x04\x00"


def _native_pixel_offset(ds: Dataset, original: bytes | None) -> tuple[int, int] | None:
    """(end of the file meta, start of the Pixel Data element) in `original` when the archive can be
    spliced from it: a Part-10 file with a file meta group length, in Explicit VR Little Endian, whose
    last element is the native Pixel Data `ds` holds. None otherwise."""
    if original is None or original[128:132] != b"DICM" or original[132:140] != _META_GROUP_LENGTH:
        return None
    if UID(ds.file_meta.TransferSyntaxUID) != ExplicitVRLittleEndian or "PixelData" not in ds:
        return None
    if max(ds.keys()) != 0x7FE00010:
        return None
    meta_end = 144 + struct.unpack_from("<I", original, 140)[0]
    length = len(ds.PixelData)
    start = len(original) - length - 12
    header = _PIXEL_DATA_TAG + ds["PixelData"].VR.encode() + b"\x00\x00" + struct.pack("<I", length)
    if start < meta_end or original[start : start + 12] != header:
        return None
    return meta_end, start


def _spliced(original: bytes, offsets: tuple[int, int], archive: Dataset) -> bytes:
    """`archive` as Part-10 bytes: `original`'s preamble and dataset up to its Pixel Data, the archive's
    file meta and its encapsulated Pixel Data."""
    meta_end, pixel_start = offsets
    meta = io.BytesIO()
    write_file_meta_info(meta, file_meta_for(archive), enforce_standard=True)
    return b"".join(
        (
            original[:128],
            b"DICM",
            meta.getvalue(),
            original[meta_end:pixel_start],
            _PIXEL_DATA_TAG + b"OB\x00\x00\xff\xff\xff\xff",
            archive.PixelData,
            b"\xfe\xff\xdd\xe0\x00\x00\x00\x00",  # sequence delimitation item
        )
    )


def _unchanged(ds: Dataset, original: bytes | None) -> tuple[bytes, str]:
    return (original if original is not None else to_bytes(ds)), str(ds.file_meta.TransferSyntaxUID)


def lossless_archive(
    ds: Dataset,
    *,
    original: bytes | None = None,
    syntax: UID = ARCHIVE_SYNTAX,
) -> tuple[bytes, str]:
    """The instance as Part-10 bytes in a lossless compressed syntax, and that syntax's UID.

    Lossy-compressed input, input already in `syntax` and pixel data no lossless codec here can hold
    (1-bit, 32-bit, float) are returned unchanged: `original` (the bytes as received) when given, else `ds`
    re-serialised in its own syntax. Otherwise the frames are encoded, decoded again and compared with
    the original stored values before anything is returned.

    :raises ArchiveMismatch: when the encoded result is not bit-exact.
    """
    source = UID(ds.file_meta.TransferSyntaxUID)
    if codecs.is_lossy(source) or source == syntax or int(ds.BitsAllocated) not in (8, 16):
        return _unchanged(ds, original)
    frames, photometric = stored_frames(ds)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    as_stored = photometric == ds.PhotometricInterpretation and (
        samples == 1 or int(ds.get("PlanarConfiguration", 0) or 0) == 0
    )
    offsets = _native_pixel_offset(ds, original) if as_stored else None
    for candidate in dict.fromkeys((UID(syntax), *FALLBACK_SYNTAXES)):
        try:
            archive, fragments = _encoded(ds, frames, photometric, candidate)
        except (RuntimeError, ValueError):
            continue
        verify(archive, frames, fragments)
        if offsets is not None and original is not None:
            return _spliced(original, offsets, archive), str(candidate)
        return to_bytes(archive), str(candidate)
    return _unchanged(ds, original)

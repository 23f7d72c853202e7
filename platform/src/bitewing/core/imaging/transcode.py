"""The lossless compressed archive copy of an instance, verified pixel for pixel before it is returned.

The archive syntax is HTJ2K lossless (chosen in docs/decisions/0003-lossless-archive-codec.md from
bench/results/imaging.md); JPEG-LS and RLE are fallbacks for data the first codec cannot hold. Frames are
encoded directly with the codec libraries (`codecs.encode_frame`) and encapsulated one frame per fragment
with a basic offset table. Lossy-compressed input is archived as received: re-encoding cannot restore what
the sender discarded, and the bytes received are the ones to keep.
"""

from __future__ import annotations

import imagecodecs
import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, HTJ2KLossless, JPEGLSLossless, RLELossless

from bitewing.core.imaging import codecs
from bitewing.core.imaging.decode import stored_frames
from bitewing.core.imaging.part10 import replace, shallow_copy, to_bytes

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


def _decoded(archive: Dataset, fragments: list[bytes]) -> np.ndarray:
    """Decode the archive's frames: HTJ2K straight from the codestreams with OpenJPH (twice as fast as the
    generic path, which matters at CBCT frame counts), anything else through pydicom's decoders."""
    if UID(archive.file_meta.TransferSyntaxUID) == HTJ2KLossless:
        return np.stack([imagecodecs.htj2k_decode(fragment, planar=False) for fragment in fragments])
    return stored_frames(archive)[0]


def verify(archive: Dataset, original: np.ndarray, fragments: list[bytes]) -> None:
    """Decode `archive` (whose frame codestreams are `fragments`) and compare with `original` exactly.

    :raises ArchiveMismatch: on any difference in shape, type or value.
    """
    decoded = _decoded(archive, fragments)
    same = decoded.shape == original.shape and decoded.dtype == original.dtype
    if not same or not np.array_equal(decoded, original):
        raise ArchiveMismatch(f"{UID(archive.file_meta.TransferSyntaxUID).name} archive is not bit-exact")


def _unchanged(ds: Dataset, original: bytes | None) -> tuple[bytes, str]:
    return (original if original is not None else to_bytes(ds)), str(ds.file_meta.TransferSyntaxUID)


def lossless_archive(
    ds: Dataset,
    *,
    original: bytes | None = None,
    syntax: UID = ARCHIVE_SYNTAX,
    stored: tuple[np.ndarray, str] | None = None,
) -> tuple[bytes, str]:
    """The instance as Part-10 bytes in a lossless compressed syntax, and that syntax's UID.

    Lossy-compressed input, input already in `syntax` and pixel data no lossless codec here can hold
    (1-bit, 32-bit, float) are returned unchanged: `original` (the bytes as received) when given, else `ds`
    re-serialised in its own syntax. Otherwise the frames are encoded, decoded again and compared with
    the original stored values before anything is returned. `stored` may pass the output of
    `stored_frames(ds)` when the caller already has it.

    :raises ArchiveMismatch: when the encoded result is not bit-exact.
    """
    source = UID(ds.file_meta.TransferSyntaxUID)
    if codecs.is_lossy(source) or source == syntax or int(ds.BitsAllocated) not in (8, 16):
        return _unchanged(ds, original)
    frames, photometric = stored if stored is not None else stored_frames(ds)
    for candidate in dict.fromkeys((UID(syntax), *FALLBACK_SYNTAXES)):
        try:
            archive, fragments = _encoded(ds, frames, photometric, candidate)
        except (RuntimeError, ValueError):
            continue
        verify(archive, frames, fragments)
        return to_bytes(archive), str(candidate)
    return _unchanged(ds, original)

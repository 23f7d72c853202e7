"""WADO-RS content negotiation and the bytes of a retrieval, as pure functions over streams.

- `negotiate_dicom` picks the transfer syntax of ``multipart/related; type="application/dicom"`` from an
  ``Accept`` header: ``transfer-syntax=*`` is the archive as stored (HTJ2K lossless, or the instance as
  received); no transfer syntax means Explicit VR Little Endian (PS3.18 §8.7.3.5.2); Explicit and Implicit
  VR Little Endian are produced on the fly, and any other syntax only when every instance is stored in it.
- `part10_chunks` yields a Part-10 file in the chosen syntax: stored bytes are copied in chunks; a native
  copy is decoded and written one frame at a time, so a multi-frame volume is never held uncompressed.
- `choose_rendition` picks the stored rendition a ``rendered`` / ``thumbnail`` request gets (by size) and
  `negotiate_image` the media type it is sent as: its own, or one it can be converted to.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, Protocol, TypeVar

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.pixels.utils import pack_bits
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from bitewing.core.dicomweb.multipart import parse_accept
from bitewing.core.dicomweb.streams import seekable
from bitewing.core.imaging.part10 import replace, to_bytes, without_pixel_data

AS_STORED = "*"
DEFAULT_SYNTAX = str(ExplicitVRLittleEndian)
NATIVE_SYNTAXES = frozenset({str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)})
DICOM_TYPES = frozenset({"application/dicom", "application/*", "*/*"})
CHUNK = 1 << 20
_PIXEL_DATA = 0x7FE00010


class NotAcceptable(Exception):
    """No representation the request accepts can be produced (answered 406)."""


def negotiate_dicom(accept: str | None, stored_syntaxes: set[str]) -> str:
    """The transfer syntax to send (`AS_STORED` for each instance's own), the most preferred range first.

    :raises NotAcceptable: when no range of `accept` can be satisfied.
    """
    for media in parse_accept(accept):
        if media.type in ("*/*", "multipart/*"):
            return DEFAULT_SYNTAX
        if media.type != "multipart/related":
            continue
        if media.params.get("type", "application/dicom").lower() not in DICOM_TYPES:
            continue
        syntax = media.params.get("transfer-syntax")
        if syntax is None:
            return DEFAULT_SYNTAX
        if syntax == AS_STORED or syntax in NATIVE_SYNTAXES:
            return syntax
        if stored_syntaxes == {syntax}:
            return syntax
    raise NotAcceptable(
        'this server sends multipart/related; type="application/dicom" with transfer-syntax=* (as stored), '
        f"{', '.join(sorted(NATIVE_SYNTAXES))} or the stored syntax ({', '.join(sorted(stored_syntaxes))})"
    )


def part_content_type(syntax: str) -> str:
    """The ``Content-Type`` of one DICOM part."""
    return f"application/dicom; transfer-syntax={syntax}"


def read_dataset(stream: BinaryIO, *, header_only: bool = False) -> Dataset:
    """Parse a stored instance from `stream` (with `header_only`, stopping before the pixel data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(seekable(stream), stop_before_pixels=header_only)


def _pixel_header(syntax: str, vr: bytes, length: int) -> bytes:
    if syntax == str(ImplicitVRLittleEndian):
        return struct.pack("<HHI", 0x7FE0, 0x0010, length)
    return struct.pack("<HH2sHI", 0x7FE0, 0x0010, vr, 0, length)


def _native_dtype(ds: Dataset) -> np.dtype[np.generic]:
    kind = "i" if int(ds.get("PixelRepresentation", 0) or 0) else "u"
    return np.dtype(f"<{kind}{int(ds.BitsAllocated) // 8}")


def native_part10(stream: BinaryIO, syntax: str) -> Iterator[bytes]:
    """The instance read from `stream` as a Part-10 file in a native `syntax`, produced frame by frame.

    Elements after Pixel Data (data set trailing padding, digital signatures, which the new encoding would
    invalidate) are left out.
    """
    ds = read_dataset(stream)
    source = UID(ds.file_meta.TransferSyntaxUID)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frames = get_decoder(source).iter_array(ds, as_rgb=False)
        first, meta = next(frames)
    header = without_pixel_data(ds)
    photometric = str(meta.get("photometric_interpretation", ds.PhotometricInterpretation))
    replace(header, "PhotometricInterpretation", photometric)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples > 1:
        replace(header, "PlanarConfiguration", 0)
    replace(header.file_meta, "TransferSyntaxUID", UID(syntax))
    bits = int(ds.BitsAllocated)
    count = max(1, int(ds.get("NumberOfFrames", 1) or 1))
    pixels = int(ds.Rows) * int(ds.Columns) * samples * count
    length = (pixels + 7) // 8 if bits == 1 else pixels * (bits // 8)
    padded = length + (length % 2)
    yield to_bytes(header)
    yield _pixel_header(syntax, b"OW" if bits > 8 else b"OB", padded)
    if bits == 1:
        yield pack_bits(np.stack([first, *(arr for arr, _ in frames)]).ravel())
    else:
        dtype = _native_dtype(ds)
        yield np.ascontiguousarray(first, dtype=dtype).tobytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for arr, _ in frames:
                yield np.ascontiguousarray(arr, dtype=dtype).tobytes()
    if padded != length:
        yield b"\x00"


def part10_chunks(open_stream: Callable[[], BinaryIO], stored_syntax: str, syntax: str) -> Iterator[bytes]:
    """The stored instance behind `open_stream` in `syntax` (`AS_STORED`: the stored bytes, in chunks)."""
    with open_stream() as stream:
        if syntax in (AS_STORED, stored_syntax):
            while chunk := stream.read(CHUNK):
                yield chunk
            return
        yield from native_part10(stream, syntax)


class RenditionLike(Protocol):
    """What rendition selection needs to know of a stored rendition."""

    name: str
    width: int
    height: int
    content_type: str


R = TypeVar("R", bound=RenditionLike)


def parse_viewport(value: str | None) -> tuple[int, int] | None:
    """``viewport=vw,vh`` (further values of the long form are ignored); None when absent.

    :raises ValueError: when it is not made of whole numbers.
    """
    if not value:
        return None
    parts = [p.strip() for p in value.split(",")]
    width, height = (int(p) if p else 0 for p in [*parts, "", ""][:2])
    if width < 0 or height < 0:
        raise ValueError("viewport sizes must not be negative")
    return width, height


def negotiate_image(accept: str | None, available: Sequence[str]) -> str:
    """The image media type to send among `available` (in the server's order of preference, which
    decides between types the client likes equally; ``*/*`` or no header takes the first).

    :raises NotAcceptable: when `accept` allows none of them.
    """
    for media in parse_accept(accept):
        for content_type in available:
            if media.matches(content_type):
                return content_type
    raise NotAcceptable(f"renditions are available as {', '.join(available) or 'nothing'}")


def choose_rendition(
    renditions: Sequence[R], viewport: tuple[int, int] | None, *, smallest: bool
) -> R | None:
    """The rendition to send, whatever its format: with a viewport the smallest at least that large
    (else the largest); without one the smallest (thumbnail) or the largest (rendered)."""
    candidates = sorted(renditions, key=lambda r: (r.width * r.height, r.width))
    if not candidates:
        return None
    if viewport:
        width, height = viewport
        fitting = [r for r in candidates if r.width >= width and r.height >= height]
        return fitting[0] if fitting else candidates[-1]
    return candidates[0] if smallest else candidates[-1]

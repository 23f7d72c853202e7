"""WADO-RS frame retrieval (PS3.18 §10.4.1.1.4): frame lists, their media types, and the bytes of single
frames read from a stored instance without decoding (or holding) the rest of it.

- `parse_frame_list` reads the ``{frameList}`` path segment (1-based frame numbers, comma-separated).
- `negotiate_frames` picks the representation: uncompressed little-endian pixels as
  ``application/octet-stream`` (the default, PS3.18 §8.7.3.5.2), or the stored frame codestream as it is,
  for ``application/octet-stream`` with ``transfer-syntax=*`` (or the stored syntax) or the stored syntax's
  bulk-data media type (``image/jphc`` for HTJ2K, ``image/jls``, ``image/jp2``, …).
- `read_frames` yields the frames: codestreams are located through the basic (or extended) offset table and
  copied; native frames are read, or decoded, one requested frame at a time.
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import iter_pixels
from pydicom.pixels.utils import pack_bits
from pydicom.uid import UID, ExplicitVRLittleEndian

from bitewing.core.dicomweb.multipart import MediaType, parse_accept
from bitewing.core.dicomweb.retrieve import AS_STORED, NotAcceptable
from bitewing.core.dicomweb.streams import seekable

OCTET_STREAM = "application/octet-stream"
NATIVE_SYNTAX = str(ExplicitVRLittleEndian)
BULK_MEDIA_TYPES: dict[str, str] = {
    "1.2.840.10008.1.2.5": "image/dicom-rle",
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
}
"""Compressed pixel data media types of PS3.18 Table 8.7.4-1 by transfer syntax."""

_FRAME_NUMBER = re.compile(r"^[0-9]{1,9}$")
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class FrameFormat:
    """How frames are sent: each part's media type and the syntax of its bytes (`NATIVE_SYNTAX`: decoded
    pixels; any other: the stored codestream as it is)."""

    media_type: str
    syntax: str

    @property
    def part_content_type(self) -> str:
        """The ``Content-Type`` of one frame's part."""
        return f"{self.media_type}; transfer-syntax={self.syntax}"


def parse_frame_list(value: str) -> list[int]:
    """The 1-based frame numbers of a ``{frameList}`` such as ``1,5,9``, in the order given (repeats kept).

    :raises ValueError: when it is empty or holds anything but positive whole numbers.
    """
    items = [item.strip() for item in value.split(",")]
    if not all(_FRAME_NUMBER.match(item) and int(item) > 0 for item in items):
        raise ValueError(f"the frame list must be comma-separated frame numbers from 1, not {value[:60]!r}")
    return [int(item) for item in items]


def _encapsulated(syntax: str) -> bool:
    try:
        return UID(syntax).is_encapsulated
    except ValueError:  # not a transfer syntax pydicom knows
        return False


def negotiate_frames(accept: str | None, stored_syntax: str) -> FrameFormat:
    """The representation to send frames of an instance stored in `stored_syntax`, the most preferred
    range of `accept` first.

    :raises NotAcceptable: when no range of `accept` can be satisfied.
    """
    native = FrameFormat(OCTET_STREAM, NATIVE_SYNTAX)
    compressed = _encapsulated(stored_syntax)
    bulk_type = BULK_MEDIA_TYPES.get(stored_syntax)
    for media in parse_accept(accept):
        if media.type in ("*/*", "multipart/*"):
            return native
        if media.type != "multipart/related":
            continue
        kind = media.params.get("type", OCTET_STREAM).lower()
        syntax = media.params.get("transfer-syntax")
        if kind in (OCTET_STREAM, "application/*", "*/*"):
            if syntax in (None, NATIVE_SYNTAX) or (syntax == AS_STORED and not compressed):
                return native
            if compressed and syntax in (AS_STORED, stored_syntax):
                return FrameFormat(OCTET_STREAM, stored_syntax)
        elif bulk_type and MediaType(kind).matches(bulk_type) and syntax in (None, AS_STORED, stored_syntax):
            return FrameFormat(bulk_type, stored_syntax)
    offered = [f'multipart/related; type="{OCTET_STREAM}" (uncompressed)']
    if compressed:
        offered.append(f'type="{OCTET_STREAM}"; transfer-syntax=* or {stored_syntax} (as stored)')
        if bulk_type:
            offered.append(f'type="{bulk_type}"')
    raise NotAcceptable(f"frames of this instance are available as {', '.join(offered)}")


def _codestreams(fp: BinaryIO, indices: Sequence[int]) -> Iterator[bytes]:
    """The stored codestream of each frame at `indices` (0-based), found through the offset tables."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = pydicom.dcmread(fp, stop_before_pixels=True)
    # pydicom stops at the start of the Pixel Data element (as `pydicom.pixels.pixel_array` relies on too)
    element = fp.read(12)
    group, number, _vr, _reserved, length = struct.unpack("<HH2sHI", element.ljust(12, b"\0"))
    if (group, number, length) != (0x7FE0, 0x0010, _UNDEFINED_LENGTH):
        raise ValueError("the stored instance has no encapsulated Pixel Data where its header ends")
    start = fp.tell()
    count = int(header.get("NumberOfFrames", 1) or 1)
    extended = None
    if "ExtendedOffsetTable" in header and "ExtendedOffsetTableLengths" in header:
        extended = (header.ExtendedOffsetTable, header.ExtendedOffsetTableLengths)
    for index in indices:
        fp.seek(start)
        yield get_frame(fp, index, number_of_frames=count, extended_offsets=extended)


def _native_frames(fp: BinaryIO, indices: Sequence[int]) -> Iterator[bytes]:
    """Each frame at `indices` (0-based) as uncompressed little-endian bytes, read or decoded on its own."""
    header = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for frame in iter_pixels(fp, indices=indices, as_rgb=False, ds_out=header):
            if int(header.BitsAllocated) == 1:
                yield pack_bits(frame.ravel())
            else:
                yield np.ascontiguousarray(frame, dtype=frame.dtype.newbyteorder("<")).tobytes()


def read_frames(stream: BinaryIO, indices: Sequence[int], syntax: str) -> Iterator[bytes]:
    """The frames at `indices` (0-based) of the stored instance in `stream`: decoded to native little-endian
    bytes when `syntax` is `NATIVE_SYNTAX`, else the stored codestreams unchanged.

    Only the header, the offset table and the requested frames are read; one frame is held at a time.
    """
    fp = seekable(stream)
    if syntax == NATIVE_SYNTAX:
        yield from _native_frames(fp, indices)
    else:
        yield from _codestreams(fp, indices)


def frame_parts(
    open_stream: Callable[[], BinaryIO], indices: Sequence[int], frame_format: FrameFormat
) -> Iterator[tuple[str, Iterable[bytes]]]:
    """The parts of a frames response (for `multipart.write_parts`), read when iterated."""
    with open_stream() as stream:
        for frame in read_frames(stream, indices, frame_format.syntax):
            yield frame_format.part_content_type, (frame,)

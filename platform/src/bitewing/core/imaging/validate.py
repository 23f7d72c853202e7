"""Parse received bytes into a pydicom Dataset, rejecting anything unsafe or unusable with a reason code.

The checks run in a fixed order and stop at the first failure, so each bad input has exactly one reason:
not_dicom, truncated, nesting_too_deep, missing_uid, bad_uid, no_pixel_data, bad_pixel_module, too_large,
unsupported_transfer_syntax, pixel_data_short.
"""

from __future__ import annotations

import io
import re
import struct
import warnings

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_fragmented_frames
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset
from pydicom.pixels import get_decoder
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
OPTIONAL_UIDS = ("FrameOfReferenceUID",)
PIXEL_MODULE = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "PhotometricInterpretation")

_UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*")
_UNDEFINED_LENGTH = 0xFFFFFFFF
_RAW_FIRST_GROUPS = (0x0002, 0x0008)


class InvalidInstance(ValueError):
    """The bytes are not an instance Bitewing can store and show; `reason` is a short machine code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_valid_uid(value: object) -> bool:
    """True for a DICOM UID: digits in dot-separated components, at most 64 characters.

    Leading zeros inside a component are tolerated (common in real devices); empty components ('..'),
    letters, '/' and anything over 64 characters are not.
    """
    return isinstance(value, str) and 0 < len(value) <= 64 and _UID_PATTERN.fullmatch(value) is not None


def _looks_like_raw_dataset(data: bytes) -> bool:
    if len(data) < 8:
        return False
    little = struct.unpack_from("<H", data)[0]
    big = struct.unpack_from(">H", data)[0]
    return little in _RAW_FIRST_GROUPS or big in _RAW_FIRST_GROUPS


class _ViewReader(io.BytesIO):
    """A BytesIO whose large reads return views of the buffer instead of copies.

    pydicom keeps such a view as the value of a defined-length OB/OW element (Pixel Data), which numpy
    and the writers read like bytes: a received image is then held once in memory, not twice.
    """

    VIEW_FROM = 1 << 16

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._view = memoryview(data)

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < self.VIEW_FROM:
            return super().read(size)
        start = self.tell()
        end = min(len(self._view), start + size)
        self.seek(end)
        return self._view[start:end]  # type: ignore[return-value]  # read like bytes by pydicom and numpy


def _dcmread(data: bytes, force: bool) -> Dataset:
    """`pydicom.dcmread` of `data`, with the Pixel Data and the elements after it read by `_ViewReader`.

    The header is read up to the pixel data, then the rest from the same offset. Only defined-length values
    (native pixel data) stay views: pydicom's encapsulation helpers treat any buffer that is not bytes as a
    file, so encapsulated pixel data is copied to bytes. Deflated datasets are read whole (their bytes are
    not the dataset's).
    """
    header = io.BytesIO(data)
    ds = pydicom.dcmread(header, force=force, stop_before_pixels=True)
    if ds.get("file_meta", {}).get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        return pydicom.dcmread(io.BytesIO(data), force=force)
    if header.tell() < len(data):
        rest = _ViewReader(data)
        rest.seek(header.tell())
        for tag, element in read_dataset(rest, *ds.original_encoding).items():
            if isinstance(element, RawDataElement) and element.length == _UNDEFINED_LENGTH:
                # encapsulated: pydicom's fragment readers want bytes
                element = element._replace(value=bytes(element.value or b""))
            ds[tag] = element
    return ds


def _read(data: bytes) -> Dataset:
    part10 = data[128:132] == b"DICM"
    if not part10 and not _looks_like_raw_dataset(data):
        raise InvalidInstance("not_dicom", "neither a DICOM Part-10 file nor a raw DICOM dataset")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = _dcmread(data, force=not part10)
            ended_early = any("End of file reached" in str(w.message) for w in caught)
    except InvalidDicomError as exc:
        raise InvalidInstance("not_dicom", f"not a DICOM file: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInstance("nesting_too_deep", "sequences are nested too deeply to parse") from exc
    except (EOFError, struct.error, OSError) as exc:
        raise InvalidInstance("truncated", f"the file ends inside a data element: {exc}") from exc
    except (ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise InvalidInstance("not_dicom", f"the data could not be parsed as DICOM: {exc}") from exc
    if ended_early:
        raise InvalidInstance("truncated", "the file ends before a sequence or item delimiter")
    if not part10 or "TransferSyntaxUID" not in ds.get("file_meta", {}):
        _assume_raw_syntax(ds)
    return ds


def _assume_raw_syntax(ds: Dataset) -> None:
    """Record the encoding pydicom detected as the transfer syntax of a dataset read without file meta."""
    implicit, little = ds.original_encoding
    syntax = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    if implicit:
        syntax = ImplicitVRLittleEndian
    ds.file_meta = ds.get("file_meta") or FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax


def _check_not_truncated(ds: Dataset) -> None:
    if len(ds) == 0:
        raise InvalidInstance("truncated", "the file holds no data elements after its header")
    last = ds.get_item(list(ds.keys())[-1])
    short = isinstance(last, RawDataElement) and last.length != _UNDEFINED_LENGTH
    if short and len(last.value or b"") < last.length:
        raise InvalidInstance(
            "truncated",
            f"element {last.tag} declares {last.length} bytes but only {len(last.value)} remain",
        )


def _is_sequence(ds: Dataset, tag: BaseTag) -> bool:
    """True for a sequence element, read from the raw element's VR (or the dictionary's for implicit VR)
    without converting the element's value."""
    elem = ds.get_item(tag)
    vr = elem.VR
    if vr is None and isinstance(elem, RawDataElement):
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return False
    return vr == "SQ"


_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_ITEM, _ITEM_END, _SEQUENCE_END = (0xFFFE, 0xE000), (0xFFFE, 0xE00D), (0xFFFE, 0xE0DD)


def _too_deep(max_depth: int) -> InvalidInstance:
    return InvalidInstance("nesting_too_deep", f"sequences are nested more than {max_depth} levels deep")


def _walk_items(buf: bytes, pos: int, end: int, depth: int, max_depth: int) -> int | None:
    """Skip the items of an explicit VR little endian sequence at nesting `depth` that ends at `end` (or
    at its delimiter); the position after it, or None for anything this byte walker does not handle."""
    while pos < end:
        if pos + 8 > len(buf):
            return None
        group, element, length = struct.unpack_from("<HHI", buf, pos)
        pos += 8
        if (group, element) == _SEQUENCE_END:
            return pos
        if (group, element) != _ITEM:
            return None
        found = _walk_elements(
            buf, pos, None if length == _UNDEFINED_LENGTH else pos + length, depth, max_depth
        )
        if found is None:
            return None
        pos = found
    return pos if pos == end else None


def _walk_elements(buf: bytes, pos: int, end: int | None, depth: int, max_depth: int) -> int | None:
    """Skip the elements of an item (to `end`, or to its delimiter when `end` is None), walking nested
    sequences; the position after the item, or None when the walker cannot tell."""
    while end is None or pos < end:
        if pos + 8 > len(buf):
            return None
        group, element = struct.unpack_from("<HH", buf, pos)
        if (group, element) == _ITEM_END:
            return pos + 8
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(buf):
                return None
            length = struct.unpack_from("<I", buf, pos + 8)[0]
            pos += 12
        elif vr.isalpha() and vr.isupper():
            length = struct.unpack_from("<H", buf, pos + 6)[0]
            pos += 8
        else:
            return None  # not explicit VR here
        if vr == b"SQ":
            if depth + 1 > max_depth:
                raise _too_deep(max_depth)
            undefined = length == _UNDEFINED_LENGTH
            found = _walk_items(buf, pos, len(buf) if undefined else pos + length, depth + 1, max_depth)
            if found is None:
                return None
            pos = found
        elif length == _UNDEFINED_LENGTH:
            return None
        else:
            pos += length
    return pos if pos == end else None


def _raw_sequence_ok(ds: Dataset, tag: BaseTag, depth: int, max_depth: int) -> bool:
    """Check a defined-length sequence of an Explicit VR Little Endian dataset straight from its bytes
    (pydicom would build a Dataset per item: most of the cost of reading a volume's per-frame functional
    groups). False when the bytes are not plain enough for the walker (pydicom then decides)."""
    elem = ds.get_item(tag)
    if not isinstance(elem, RawDataElement) or elem.length == _UNDEFINED_LENGTH:
        return False
    if ds.original_encoding != (False, True) or not isinstance(elem.value, bytes):
        return False
    return _walk_items(elem.value, 0, len(elem.value), depth, max_depth) is not None


def _check_nesting(ds: Dataset, max_depth: int, depth: int = 0) -> None:
    """Sequences are walked as raw bytes where possible, else converted by pydicom (their leaf values
    stay raw either way)."""
    for tag in list(ds.keys()):
        if not _is_sequence(ds, tag):
            continue
        if depth + 1 > max_depth:
            raise _too_deep(max_depth)
        if _raw_sequence_ok(ds, tag, depth + 1, max_depth):
            continue
        for item in ds[tag].value:
            _check_nesting(item, max_depth, depth + 1)


def _check_uids(ds: Dataset) -> None:
    for keyword in REQUIRED_UIDS:
        if not ds.get(keyword):
            raise InvalidInstance("missing_uid", f"{keyword} is missing")
    for keyword in (*REQUIRED_UIDS, *OPTIONAL_UIDS):
        value = ds.get(keyword)
        if value is not None and not is_valid_uid(str(value)):
            raise InvalidInstance("bad_uid", f"{keyword} {str(value)[:80]!r} is not a valid DICOM UID")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if not is_valid_uid(str(syntax)):
        raise InvalidInstance("bad_uid", f"transfer syntax {str(syntax)[:80]!r} is not a valid DICOM UID")


def _frames(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError) as exc:
        raise InvalidInstance("bad_pixel_module", "Number of Frames is not an integer") from exc


def _check_pixel_module(ds: Dataset, max_pixels: int) -> None:
    if "PixelData" not in ds:
        raise InvalidInstance("no_pixel_data", "the instance has no Pixel Data")
    missing = [k for k in PIXEL_MODULE if ds.get(k) in (None, "")]
    if missing:
        raise InvalidInstance("bad_pixel_module", f"image pixel attributes missing: {', '.join(missing)}")
    rows, cols, bits = int(ds.Rows), int(ds.Columns), int(ds.BitsAllocated)
    if rows < 1 or cols < 1 or bits not in (1, 8, 16, 32) or int(ds.SamplesPerPixel) not in (1, 3):
        raise InvalidInstance(
            "bad_pixel_module", f"unusable image geometry {rows}x{cols}, {bits} bits allocated"
        )
    stored = bits if ds.get("BitsStored") in (None, "") else int(ds.BitsStored)
    if not 1 <= stored <= bits or int(ds.get("PixelRepresentation", 0) or 0) not in (0, 1):
        raise InvalidInstance(
            "bad_pixel_module",
            f"{stored} bits stored of {bits} allocated, pixel representation "
            f"{ds.get('PixelRepresentation')}: not a valid combination",
        )
    pixels = rows * cols * _frames(ds)
    if pixels > max_pixels:
        raise InvalidInstance("too_large", f"{pixels} pixels exceed the limit of {max_pixels}")


def _check_syntax_supported(syntax: UID) -> None:
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise InvalidInstance(
            "unsupported_transfer_syntax", f"no decoder for transfer syntax {syntax}"
        ) from exc
    if not decoder.is_available:
        raise InvalidInstance("unsupported_transfer_syntax", f"no installed plugin decodes {syntax.name}")


def expected_native_length(ds: Dataset) -> int:
    """Bytes of native (uncompressed) Pixel Data the image pixel attributes call for, without padding."""
    pixels = int(ds.Rows) * int(ds.Columns) * _frames(ds) * int(ds.SamplesPerPixel)
    bits = int(ds.BitsAllocated)
    return (pixels + 7) // 8 if bits == 1 else pixels * (bits // 8)


def _check_pixel_length(ds: Dataset, syntax: UID) -> None:
    if not syntax.is_encapsulated:
        expected, actual = expected_native_length(ds), len(ds.PixelData)
        if actual < expected:
            raise InvalidInstance("pixel_data_short", f"Pixel Data holds {actual} bytes, {expected} expected")
        return
    frames = _frames(ds)
    try:
        found = sum(1 for _ in generate_fragmented_frames(ds.PixelData, number_of_frames=frames))
    except (ValueError, struct.error, EOFError) as exc:
        raise InvalidInstance("truncated", f"encapsulated Pixel Data is malformed: {exc}") from exc
    if found < frames:
        raise InvalidInstance("pixel_data_short", f"encapsulated Pixel Data holds {found} of {frames} frames")


def parse_instance(data: bytes, *, max_pixels: int = 400_000_000, max_depth: int = 8) -> Dataset:
    """Parse Part-10 or raw-dataset bytes and validate them for storage and display.

    Checks, in order: DICOM at all, not truncated, sequence nesting within `max_depth`, the four
    identifying UIDs present and valid, pixel data and a usable image pixel module present, rows x columns x
    frames within `max_pixels` (decompression bombs), a transfer syntax the installed decoders support, and
    pixel data long enough (native: every byte; encapsulated: every frame).

    pydicom's warnings about non-conformant values are silenced here: what matters is decided by these
    checks, and a sender's small deviations must not flood the worker's log.

    :returns: the dataset, with `file_meta.TransferSyntaxUID` set (detected for raw datasets).
    :raises InvalidInstance: with the reason code of the first failed check.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = _read(data if isinstance(data, bytes) else bytes(data))
        _check_not_truncated(ds)
        _check_nesting(ds, max_depth)
        _check_uids(ds)
        _check_pixel_module(ds, max_pixels)
        syntax = UID(ds.file_meta.TransferSyntaxUID)
        _check_syntax_supported(syntax)
        _check_pixel_length(ds, syntax)
    return ds


def read_accepted(data: bytes) -> Dataset:
    """Parse bytes that `parse_instance` has accepted before (a processed instance's stored DICOM), without
    running its checks again.

    :raises InvalidInstance: when the bytes cannot be parsed at all (they are not what was accepted).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read(data if isinstance(data, bytes) else bytes(data))

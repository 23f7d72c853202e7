"""A seekable, read-only view of a remote object that fetches only the byte ranges read.

A viewer scrolling a CBCT volume asks for one slice at a time: the frame's codestream is found through the
header and the offset table at the start of the object and read from its place, so a slice costs a few
ranged GETs instead of the whole volume.
"""

from __future__ import annotations

import io
from collections.abc import Callable

Fetch = Callable[[int, int], tuple[bytes, int]]
"""`fetch(start, end)`: the object's bytes `start`..`end` (inclusive, clipped to its end) and its size."""

READ_AHEAD = 1 << 18
"""Bytes fetched at least per request (256 KiB): a DICOM header with its offset table, or several frames."""


class RangedReader(io.RawIOBase):
    """Reads through `fetch`, one window of at least `read_ahead` bytes from the position at a time.

    The first window (the start of the object) is fetched when the reader is made, which also tells the size,
    so a missing object fails at once. Reads inside the cached window cost no request.
    """

    def __init__(self, fetch: Fetch, read_ahead: int = READ_AHEAD) -> None:
        self._fetch = fetch
        self._read_ahead = read_ahead
        self._window, self._size = fetch(0, read_ahead - 1)
        self._window_start = 0
        self._position = 0

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(target), self._size - self._position)
        if count <= 0:
            return 0
        offset = self._position - self._window_start
        if offset < 0 or offset + count > len(self._window):
            end = min(self._size, self._position + max(count, self._read_ahead)) - 1
            self._window, self._size = self._fetch(self._position, end)
            self._window_start, offset = self._position, 0
            count = min(count, len(self._window))
        target[:count] = self._window[offset : offset + count]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

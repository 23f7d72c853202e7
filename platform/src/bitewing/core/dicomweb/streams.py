"""A seekable view of a forward-only stream (an S3 body), buffering only what has been read."""

from __future__ import annotations

import io
from typing import BinaryIO, cast


class Rewindable(io.RawIOBase):
    """Reads `source` on demand and keeps the bytes read so far, so a parser may seek back (and forward,
    by reading on). Reading a DICOM header with ``stop_before_pixels`` then buffers the header only."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._buffer = bytearray()
        self._position = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _fill_to(self, size: int | None) -> None:
        while not self._eof and (size is None or len(self._buffer) < size):
            chunk = self._source.read(1 << 16 if size is None else max(1 << 16, size - len(self._buffer)))
            if not chunk:
                self._eof = True
            self._buffer.extend(chunk)

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill_to(self._position + len(target))
        data = self._buffer[self._position : self._position + len(target)]
        target[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            self._fill_to(None)
            offset += len(self._buffer)
        elif whence == io.SEEK_CUR:
            offset += self._position
        if offset < 0:
            raise OSError("negative seek position")
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def seekable(stream: BinaryIO) -> BinaryIO:
    """`stream` itself when it can seek, otherwise a `Rewindable` over it.

    The `Rewindable` is returned as it is, not inside an ``io.BufferedReader`` (it reads ahead in blocks
    itself): pydicom takes any ``BufferedReader`` for an open named file and fails on one without a name.
    """
    try:
        if stream.seekable():
            return stream
    except (AttributeError, OSError):
        pass
    return cast(BinaryIO, Rewindable(stream))

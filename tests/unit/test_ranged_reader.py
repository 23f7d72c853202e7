"""`RangedReader`: seeks and reads exactly like a file, fetching only windows around what is read."""

from __future__ import annotations

import io
import random

import pytest

from bitewing.connectors.s3.ranged import RangedReader

DATA = bytes(random.Random(7).randrange(256) for _ in range(100_000))


class Recorder:
    """Serves ranges of `DATA` as an S3 ranged GET does and records each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int]] = []

    def __call__(self, start: int, end: int) -> tuple[bytes, int]:
        self.requests.append((start, end))
        return DATA[start : end + 1], len(DATA)


def test_random_seeks_and_reads_give_what_a_file_gives() -> None:
    reader, expected = RangedReader(Recorder(), read_ahead=4096), io.BytesIO(DATA)
    steps = random.Random(11)
    for _ in range(500):
        whence = steps.choice([io.SEEK_SET, io.SEEK_CUR, io.SEEK_END])
        offset = {io.SEEK_SET: steps.randrange(110_000), io.SEEK_CUR: steps.randrange(-3000, 3000)}.get(
            whence, -steps.randrange(12_000)
        )
        if expected.seek(0, io.SEEK_CUR) + offset < 0 and whence == io.SEEK_CUR:
            continue
        assert reader.seek(offset, whence) == expected.seek(offset, whence)
        size = steps.choice([1, 12, 700, 5000, 20_000])
        assert reader.read(size) == expected.read(size)
        assert reader.tell() == expected.tell()
    assert reader.size == len(DATA)


def test_only_windows_around_the_reads_are_fetched() -> None:
    """The header at the start and one frame further on cost two requests, not the whole object."""
    fetch = Recorder()
    reader = RangedReader(fetch, read_ahead=8192)
    assert reader.read(300) == DATA[:300]  # in the window fetched on opening
    reader.seek(70_000)
    assert reader.read(2000) == DATA[70_000:72_000]
    assert reader.read(100) == DATA[72_000:72_100]  # still inside that window
    assert fetch.requests == [(0, 8191), (70_000, 78_191)]
    reader.seek(99_990)
    assert reader.read(50) == DATA[99_990:]
    assert reader.read(50) == b""
    assert fetch.requests[-1] == (99_990, 99_999)


def test_a_read_larger_than_the_window_is_one_request() -> None:
    fetch = Recorder()
    reader = RangedReader(fetch, read_ahead=1024)
    reader.seek(10_000)
    assert reader.read(30_000) == DATA[10_000:40_000]
    assert fetch.requests[1:] == [(10_000, 39_999)]


def test_seeking_before_the_start_is_an_error() -> None:
    reader = RangedReader(Recorder())
    with pytest.raises(OSError, match="negative"):
        reader.seek(-1)

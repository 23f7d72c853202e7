"""Media types, ``Accept`` headers and ``multipart/related`` bodies (RFC 2387, RFC 2046 §5.1), without Flask.

`iter_parts` reads a body from any ``read(n)`` callable and yields each part as soon as its closing delimiter
has arrived, so a request of many instances is processed one instance at a time and only the part being read
is held in memory. `write_parts` produces a response body lazily from iterables of chunks.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

CRLF = b"\r\n"
DEFAULT_CHUNK = 1 << 16
MAX_HEADER_BYTES = 16 * 1024
_BOUNDARY_CHARS = re.compile(r"^[\x21-\x7e ]{1,200}$")
"""RFC 2046 allows 70 characters of a smaller set; real senders are not always that careful."""


class MultipartError(ValueError):
    """The body is not a well-formed multipart body."""


class PartTooLarge(MultipartError):
    """A part is larger than the limit."""


@dataclass(frozen=True)
class MediaType:
    """A media type with its parameters (names lower-cased, values unquoted) and its ``q`` weight."""

    type: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    def matches(self, wanted: str) -> bool:
        """True when this range (e.g. ``*/*``, ``image/*``) covers the concrete type `wanted`."""
        major, _, minor = self.type.partition("/")
        w_major, _, w_minor = wanted.lower().partition("/")
        return (major in ("*", w_major)) and (minor in ("*", w_minor))


def _split_outside_quotes(value: str, separator: str) -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_media_type(value: str | None) -> MediaType:
    """Parse a ``Content-Type`` value such as ``multipart/related; type="application/dicom"; boundary=x``."""
    pieces = _split_outside_quotes(value or "", ";")
    params: dict[str, str] = {}
    q = 1.0
    for piece in pieces[1:]:
        name, sep, raw = piece.partition("=")
        if not sep:
            continue
        name = name.strip().lower()
        if name == "q":
            try:
                q = max(0.0, min(1.0, float(raw.strip())))
            except ValueError:
                q = 0.0
            continue
        params[name] = _unquote(raw)
    return MediaType(pieces[0].strip().lower(), params, q)


def parse_accept(value: str | None) -> list[MediaType]:
    """The media ranges of an ``Accept`` header, most preferred first (q=0 dropped); ``*/*`` when absent."""
    if not value or not value.strip():
        return [MediaType("*/*")]
    ranges = [parse_media_type(item) for item in _split_outside_quotes(value, ",") if item.strip()]
    return sorted((r for r in ranges if r.q > 0), key=lambda r: -r.q)


@dataclass(frozen=True)
class Part:
    """One body part: its headers (names lower-cased) and its content."""

    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> MediaType | None:
        value = self.headers.get("content-type")
        return parse_media_type(value) if value else None


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw in block.split(CRLF):
        if not raw:
            continue
        if raw[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            last = next(reversed(headers))
            headers[last] += " " + raw.strip().decode("latin-1")
            continue
        name, sep, value = raw.partition(b":")
        if not sep:
            raise MultipartError(f"malformed part header line {raw[:60]!r}")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def iter_parts(
    read: Callable[[int], bytes],
    boundary: str,
    *,
    max_part_bytes: int,
    chunk_size: int = DEFAULT_CHUNK,
) -> Iterator[Part]:
    """Yield the parts of a multipart body read through `read` (e.g. ``request.stream.read``).

    Preamble and epilogue are ignored; a body may start with the boundary or with CRLF and the boundary,
    and the close delimiter may or may not be followed by CRLF.

    :raises PartTooLarge: when a part exceeds `max_part_bytes`.
    :raises MultipartError: when the body ends early or is not multipart with this boundary.
    """
    if not _BOUNDARY_CHARS.match(boundary) or boundary.endswith(" "):
        raise MultipartError("the multipart boundary is missing or invalid")
    delimiter = CRLF + b"--" + boundary.encode("latin-1")
    buffer = bytearray(CRLF)  # so a boundary at the very start is found like every later one

    def fill() -> bool:
        chunk = read(chunk_size)
        if chunk:
            buffer.extend(chunk)
        return bool(chunk)

    # preamble
    while (start := buffer.find(delimiter)) < 0:
        if len(buffer) >= len(delimiter):
            del buffer[: len(buffer) - len(delimiter) + 1]
        if not fill():
            raise MultipartError("the body holds no part with the declared boundary")
    del buffer[: start + len(delimiter)]
    while True:
        while len(buffer) < 2 and fill():
            pass
        if buffer[:2] == b"--":
            return  # close delimiter; the epilogue is ignored
        while (eol := buffer.find(CRLF)) < 0:
            if len(buffer) > 1024 or not fill():
                raise MultipartError("the body ends after a boundary without a closing delimiter")
        if bytes(buffer[:eol]).strip(b" \t"):
            raise MultipartError("unexpected characters after a boundary")
        del buffer[: eol + 2]
        while len(buffer) < 2 and fill():
            pass
        if buffer[:2] == CRLF:
            headers: dict[str, str] = {}
            del buffer[:2]
        else:
            while (end := buffer.find(CRLF + CRLF)) < 0:
                if len(buffer) > MAX_HEADER_BYTES or not fill():
                    raise MultipartError("part headers are too long or not terminated")
            headers = _parse_headers(bytes(buffer[:end]))
            del buffer[: end + 4]
        searched = 0
        while (end := buffer.find(delimiter, searched)) < 0:
            if len(buffer) - len(delimiter) > max_part_bytes:
                raise PartTooLarge(f"a part is larger than {max_part_bytes} bytes")
            searched = max(0, len(buffer) - len(delimiter) + 1)
            if not fill():
                raise MultipartError("the body ends inside a part (no closing boundary)")
        if end > max_part_bytes:
            raise PartTooLarge(f"a part is larger than {max_part_bytes} bytes")
        rest = bytes(buffer[end + len(delimiter) :])
        del buffer[end:]
        body = bytes(buffer)
        buffer.clear()
        buffer.extend(rest)
        yield Part(headers, body)


def new_boundary() -> str:
    """A random boundary that cannot occur by chance in the content."""
    return f"bitewing-{secrets.token_hex(16)}"


def write_parts(parts: Iterable[tuple[str, Iterable[bytes]]], boundary: str) -> Iterator[bytes]:
    """The body of a multipart message: each part is (content type, chunks), produced only when iterated."""
    for content_type, chunks in parts:
        yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode("latin-1")
        yield from chunks
        yield CRLF
    yield f"--{boundary}--\r\n".encode("latin-1")

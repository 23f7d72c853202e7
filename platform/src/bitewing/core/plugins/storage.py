"""The object-store interface every image store implements (local folder, S3, ...).

Image bytes never enter the database: the database keeps the key, size and SHA-256 that `put` returns.
"""

from __future__ import annotations

import abc
import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO


class ObjectStoreError(Exception):
    """The store could not complete an operation (unreachable, refused, corrupt)."""


class ObjectNotFound(ObjectStoreError):
    """No object is stored under the key."""


class ObjectCorrupt(ObjectStoreError):
    """The object's bytes do not match the SHA-256 recorded when it was stored."""


@dataclass(frozen=True)
class StoredObject:
    """What the store holds under a key."""

    key: str
    size: int
    sha256: str
    content_type: str


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as lowercase hex, as stores record it."""
    return hashlib.sha256(data).hexdigest()


_SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def attachment_disposition(filename: str) -> str:
    """The ``Content-Disposition`` value that makes a browser save a download as `filename`.

    Only safe names are accepted: 1 to 200 ASCII letters, digits, ``.``, ``_`` and ``-``, not starting with a dot
    or dash (no quotes, spaces, slashes, control or non-ASCII characters). Raises `ValueError` otherwise.
    """
    if not _SAFE_FILENAME.fullmatch(filename):
        raise ValueError(f"unsafe download filename {filename!r}")
    return f'attachment; filename="{filename}"'


class ObjectStore(abc.ABC):
    """A flat key → bytes store.

    Keys are opaque (`/`-separated, no PHI). Writes are atomic: after `put` returns, the whole object is durable
    and readable; a failed `put` leaves nothing under the key. One store serves several threads at once (the
    listener's associations, a processing job's rendition puts), so implementations must be thread-safe.
    """

    @abc.abstractmethod
    def put(
        self, key: str, data: bytes, content_type: str, *, immutable: bool = True, sha256: str | None = None
    ) -> StoredObject:
        """Store `data` under `key` durably and return what was stored (with its SHA-256).

        `sha256` is the digest when the caller already computed it (it is trusted, not recomputed).
        """

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; raises `ObjectNotFound`."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object under `key`; raises `ObjectNotFound`."""

    def open_random(self, key: str) -> BinaryIO:
        """A stream of the object under `key` for reading parts of it (a volume's frames, a header), seekable
        where the store can read ranges; raises `ObjectNotFound`. The default is `open` (a file is seekable);
        a remote store should fetch only what is read."""
        return self.open(key)

    @abc.abstractmethod
    def head(self, key: str) -> StoredObject:
        """Size, checksum and content type of the object under `key`; raises `ObjectNotFound`."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object under `key`; deleting a missing key is not an error."""

    @abc.abstractmethod
    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str:
        """A URL that lets a browser GET the object for `expires_in` seconds without other credentials.

        When `filename` is given, the response carries ``Content-Disposition: attachment; filename="..."``
        (exactly `attachment_disposition(filename)`), so the browser saves it under that name. The caller
        chooses the name; it must pass `attachment_disposition` (ASCII, no quotes or paths; `ValueError`
        otherwise) and must never carry PHI such as a patient's name: ``image-<image uuid>.dcm``, not
        ``Chen_Amelia.dcm``. Without it the response has no ``Content-Disposition``.
        """

    def check(self) -> None:
        """Raise `ObjectStoreError` with a readable message when the store cannot be used."""

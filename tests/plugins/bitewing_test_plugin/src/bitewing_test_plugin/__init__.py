"""A plugin installed only in tests, found through the ``bitewing`` entry point like any third-party package.

It provides the ``memory://`` object-store scheme and the ``memory`` connector type, so tests can prove
discovery end to end.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, BinaryIO
from urllib.parse import urlencode

from bitewing.core.plugins import ObjectNotFound, ObjectStore, StoredObject, hookimpl
from bitewing.core.plugins.storage import attachment_disposition, sha256_hex


class MemoryStore(ObjectStore):
    """Objects in a dict: only for tests of discovery and wiring."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put(
        self, key: str, data: bytes, content_type: str, *, immutable: bool = True, sha256: str | None = None
    ) -> StoredObject:
        self.objects[key] = (data, content_type)
        return self.head(key)

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise ObjectNotFound(key)
        return self.objects[key][0]

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self.get(key))

    def head(self, key: str) -> StoredObject:
        data = self.get(key)
        return StoredObject(
            key=key, size=len(data), sha256=sha256_hex(data), content_type=self.objects[key][1]
        )

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def presign(self, key: str, expires_in: int, *, filename: str | None = None) -> str:
        query: dict[str, Any] = {"expires_in": expires_in}
        if filename is not None:
            query["content_disposition"] = attachment_disposition(filename)
        return f"memory://{key}?{urlencode(query)}"


@hookimpl
def bitewing_object_store_types() -> dict[str, Any]:
    def factory(url: str, options: Mapping[str, Any]) -> MemoryStore:
        return MemoryStore()

    return {"memory": factory}


@hookimpl
def bitewing_connector_types() -> list[Any]:
    from bitewing_test_plugin.connector import MemoryVna

    return [MemoryVna()]

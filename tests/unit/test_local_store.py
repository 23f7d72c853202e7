"""The local-folder store keeps objects byte-exact whether or not they stay in the page cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bitewing.core.storage.local import UNCACHED_OBJECT_BYTES, LocalFolderStore


@pytest.mark.parametrize("size", [1000, UNCACHED_OBJECT_BYTES, 3 * UNCACHED_OBJECT_BYTES + 17])
def test_objects_read_back_exactly_with_their_checksum(tmp_path: Path, size: int) -> None:
    store = LocalFolderStore(tmp_path, "secret-key-for-tests")
    data = os.urandom(size)
    stored = store.put("tenant/ab/object", data, "application/dicom")
    assert store.get("tenant/ab/object") == data
    assert store.head("tenant/ab/object") == stored
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == size
    assert [p.name for p in (tmp_path / "tenant" / "ab").iterdir() if p.name.startswith(".tmp-")] == []

"""Reading stored objects back against the SHA-256 the database recorded when they were stored."""

from __future__ import annotations

from bitewing.core.plugins.storage import ObjectCorrupt, ObjectStore, sha256_hex


def get_verified(store: ObjectStore, key: str, sha256: str) -> bytes:
    """The bytes under `key`, checked against `sha256` (the digest recorded when they were stored).

    :raises ObjectCorrupt: when the bytes read differ from the ones stored.
    :raises ObjectNotFound: when nothing is stored under `key`.
    """
    data = store.get(key)
    if sha256_hex(data) != sha256:
        raise ObjectCorrupt(
            f"stored object {key} is corrupt: its SHA-256 differs from the one recorded when it was stored"
        )
    return data

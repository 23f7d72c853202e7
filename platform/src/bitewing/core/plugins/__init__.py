"""The plugin surface of Bitewing: hookspecs, the hook marker and the types plugins provide.

Connectors, the portal and the admin console import only this package from core.
"""

import pluggy

from bitewing.core.plugins.storage import (
    ObjectCorrupt,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
)

PROJECT_NAME = "bitewing"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = [
    "PROJECT_NAME",
    "ObjectCorrupt",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "StoredObject",
    "hookimpl",
]

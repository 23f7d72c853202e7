"""Object storage: choosing the store for a settings URL; the local-folder implementation."""

from __future__ import annotations

from urllib.parse import urlparse

from bitewing.core.config import ConfigError, Settings
from bitewing.core.plugins import ObjectStore
from bitewing.core.plugins.manager import Plugins


def build_object_store(settings: Settings, plugins: Plugins) -> ObjectStore:
    """The object store `settings.storage_url` names, built by the plugin that owns its scheme."""
    scheme = urlparse(settings.storage_url).scheme
    factories = plugins.object_store_types()
    if scheme not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ConfigError(
            f"BITEWING_STORAGE_URL uses scheme {scheme!r}, but no installed plugin provides it (known: {known})"
        )
    return factories[scheme](settings.storage_url, settings.storage_options())

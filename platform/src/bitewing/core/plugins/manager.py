"""Building the plugin manager and the typed facade through which core calls hooks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from bitewing.core.plugins import PROJECT_NAME, hookspecs

if TYPE_CHECKING:
    from flask import Blueprint

    from bitewing.core.plugins.connectors import ConnectorType
    from bitewing.core.plugins.hookspecs import ObjectStoreFactory

DISABLE_AUTOLOAD_ENV = "BITEWING_DISABLE_PLUGIN_AUTOLOAD"


class PluginConflict(Exception):
    """Two plugins provide the same named thing."""


class Plugins:
    """The one caller of ``pm.hook``: every hook is called here, with keywords, and its result typed."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def names(self) -> list[str]:
        """Names of the registered plugins, sorted."""
        return sorted(name for name, _ in self.pm.list_name_plugin() if name)

    def blueprints(self) -> list[Blueprint]:
        """All blueprints the plugins contribute."""
        return [bp for result in self.pm.hook.bitewing_blueprints() for bp in result]

    def object_store_types(self) -> dict[str, ObjectStoreFactory]:
        """Object-store factories by URL scheme; raises `PluginConflict` on a scheme claimed twice."""
        merged: dict[str, ObjectStoreFactory] = {}
        for result in self.pm.hook.bitewing_object_store_types():
            for scheme, factory in result.items():
                if scheme in merged:
                    raise PluginConflict(f"two plugins provide the object store scheme {scheme!r}")
                merged[scheme] = factory
        return merged

    def connector_types(self) -> dict[str, ConnectorType]:
        """Connector types by name; raises `PluginConflict` on a name provided twice."""
        merged: dict[str, ConnectorType] = {}
        for result in self.pm.hook.bitewing_connector_types():
            for connector_type in result:
                if connector_type.name in merged:
                    raise PluginConflict(f"two plugins provide the connector type {connector_type.name!r}")
                merged[connector_type.name] = connector_type
        return merged


def build_plugins(extra: Iterable[object] = (), *, autoload: bool | None = None) -> Plugins:
    """Create the plugin manager: core's built-in plugins, entry-point plugins, then `extra`.

    Entry points of the group ``bitewing`` are loaded unless `autoload` is False or the environment variable
    ``BITEWING_DISABLE_PLUGIN_AUTOLOAD`` is set. A misspelt hook implementation fails here (``check_pending``).
    """
    from bitewing.core.storage import local
    from bitewing.core.targets import cstore

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(local, name="bitewing.core.storage.local")
    pm.register(cstore, name="bitewing.core.targets.cstore")
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    if autoload:
        pm.load_setuptools_entrypoints(PROJECT_NAME)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return Plugins(pm)

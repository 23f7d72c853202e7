"""Hook specifications: the contract between Bitewing core and its plugins.

Every hook is named ``bitewing_*`` and called with keyword arguments by `bitewing.core.plugins.manager.Plugins`,
the only caller of ``pm.hook``. The docstring of each hook is its reference documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from bitewing.core.plugins import PROJECT_NAME

if TYPE_CHECKING:
    from flask import Blueprint

    from bitewing.core.plugins.connectors import ConnectorType
    from bitewing.core.plugins.storage import ObjectStore

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

ObjectStoreFactory = Callable[[str, Mapping[str, Any]], "ObjectStore"]


@hookspec
def bitewing_blueprints() -> list[Blueprint]:
    """Return Flask blueprints to register on the web app.

    The portal and the admin console add their pages this way, exactly as a third-party package would.
    Called once per app in `create_app()`; results of all plugins are registered, in plugin order.

    :return: a list of `flask.Blueprint` objects (possibly empty).
    """


@hookspec
def bitewing_object_store_types() -> dict[str, ObjectStoreFactory]:
    """Return object-store factories keyed by URL scheme (``"s3"``, ``"file"``, ...).

    `BITEWING_STORAGE_URL` picks the factory by its scheme. A factory is called as ``factory(url, options)``
    where ``options`` holds the ``BITEWING_S3_*`` style settings (endpoint URL, region, credentials, SSE,
    secret key for signed URLs, URL prefix for served files) and returns an `ObjectStore`.
    All plugins' results are merged; two plugins claiming the same scheme is a start-up error.

    :return: a mapping of URL scheme to factory.
    """


@hookspec
def bitewing_connector_types() -> list[ConnectorType]:
    """Return the connector types this plugin provides (VNA targets, archives, sources).

    Each `bitewing.core.plugins.connectors.ConnectorType` has a unique `name`, a marshmallow `config_schema`,
    the names of its secret fields and `open(config)` returning a `Connection` with `check`,
    `store_instance` (idempotent), `verify_instance` and optionally `poll_new_instances`.
    Results of all plugins are merged; two types with the same name is a start-up error.

    :return: a list of connector types (possibly empty).
    """

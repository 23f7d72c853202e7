"""Entry point of the orthanc connector (group ``bitewing``): provides the ``orthanc`` connector type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bitewing.core.plugins import hookimpl

if TYPE_CHECKING:
    from bitewing.core.plugins.connectors import ConnectorType


@hookimpl
def bitewing_connector_types() -> list[ConnectorType]:
    """The ``orthanc`` type; requests is imported only when connector types are asked for."""
    from bitewing.connectors.orthanc.connector import OrthancConnectorType

    return [OrthancConnectorType()]

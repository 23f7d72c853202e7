"""Entry point of the dicomweb connector (group ``bitewing``): provides the ``dicomweb`` connector type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bitewing.core.plugins import hookimpl

if TYPE_CHECKING:
    from bitewing.core.plugins.connectors import ConnectorType


@hookimpl
def bitewing_connector_types() -> list[ConnectorType]:
    """The ``dicomweb`` type; dicomweb-client is imported only when connector types are asked for."""
    from bitewing.connectors.dicomweb.connector import DicomwebConnectorType

    return [DicomwebConnectorType()]

"""Entry point of the S3 connector (group ``bitewing``): the ``s3://`` object-store scheme and the ``s3`` archive
connector type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bitewing.core.plugins import hookimpl

if TYPE_CHECKING:
    from bitewing.connectors.s3.store import S3ObjectStore
    from bitewing.core.plugins.connectors import ConnectorType
    from bitewing.core.plugins.hookspecs import ObjectStoreFactory


def s3_store_factory(url: str, options: Mapping[str, Any]) -> S3ObjectStore:
    """Build an `S3ObjectStore` for ``s3://bucket/optional/prefix``; boto3 is imported only when S3 is used."""
    from bitewing.connectors.s3.store import create_store

    return create_store(url, options)


@hookimpl
def bitewing_object_store_types() -> dict[str, ObjectStoreFactory]:
    return {"s3": s3_store_factory}


@hookimpl
def bitewing_connector_types() -> list[ConnectorType]:
    """The ``s3`` archive target; boto3 is imported only when connector types are asked for."""
    from bitewing.connectors.s3.target import S3ArchiveType

    return [S3ArchiveType()]

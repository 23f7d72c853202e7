"""Starters for the real services integration tests run against, each on free loopback ports.

Every process-backed service (`SeaweedFS`, `Orthanc`, `StoreSCP`) is a context manager with ``start()``/``stop()``,
keeps its files and log in a work folder, and fails fast with `ServiceError` carrying its log tail when it
does not come up within ~30 s. See ``tests/integration/conftest.py`` for the pytest fixtures built on them.
"""

from tests.support.databases import TemporaryDatabase, ensure_postgres, ensure_redis, temporary_database
from tests.support.dcmtk import StoreSCP, storescu
from tests.support.orthanc import Orthanc, OrthancFactory, OrthancHTTPError
from tests.support.ports import free_port, free_ports, is_listening
from tests.support.process import HasLogs, ServiceError
from tests.support.seaweedfs import SeaweedFS
from tests.support.smtp import SMTPServer

__all__ = [
    "HasLogs",
    "Orthanc",
    "OrthancFactory",
    "OrthancHTTPError",
    "SMTPServer",
    "SeaweedFS",
    "ServiceError",
    "StoreSCP",
    "TemporaryDatabase",
    "ensure_postgres",
    "ensure_redis",
    "free_port",
    "free_ports",
    "is_listening",
    "storescu",
    "temporary_database",
]

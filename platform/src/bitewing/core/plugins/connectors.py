"""The connector contract: what a plugin provides so Bitewing can send images to a VNA or archive.

A plugin returns `ConnectorType` objects from the ``bitewing_connector_types`` hook. The core validates a
target's configuration with the type's marshmallow schema, encrypts the fields the type marks secret, and
calls `ConnectorType.open` to get a `Connection` for each delivery, health check or verification.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema


class ConnectorError(Exception):
    """A target could not be reached or refused the request; `message` is for a practice owner to read.

    `retryable` is False when retrying cannot help (bad credentials, a rejected instance): the delivery
    goes straight to the dead letters.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class TransferSyntaxPreference(enum.StrEnum):
    """Which encoding a target receives."""

    AS_RECEIVED = "as_received"
    LOSSLESS = "lossless"
    UNCOMPRESSED = "uncompressed"


@dataclass(frozen=True)
class InstanceRef:
    """Identity of the instance being delivered (no patient data beyond what DICOM itself carries)."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    sha256: str
    size: int
    object_name: str
    """An opaque, stable name for stores that need a key (the same for every retry of a delivery)."""


@dataclass(frozen=True)
class StoreResult:
    """What the target answered: its own id of the instance when it has one."""

    remote_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of "test connection": ok, and steps a practice owner can read."""

    ok: bool
    steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolledInstance:
    """An instance a source offers (e.g. a new instance in an Orthanc ``/changes`` feed)."""

    remote_id: str
    data: bytes


class Connection(abc.ABC):
    """An open link to one configured target. Created per use; `close` releases sockets."""

    @abc.abstractmethod
    def check(self) -> CheckResult:
        """Test the connection (reachability, credentials, permissions) without storing anything lasting."""

    @abc.abstractmethod
    def store_instance(self, data: bytes, ref: InstanceRef) -> StoreResult:
        """Store one Part-10 instance. Storing the same instance twice must not create a duplicate.

        :raises ConnectorError: when the target is unreachable or refuses the instance.
        """

    @abc.abstractmethod
    def verify_instance(self, ref: InstanceRef) -> bool:
        """Whether the target really holds the instance (after a successful store)."""

    def poll_new_instances(self, cursor: str | None) -> tuple[Iterator[PolledInstance], str | None]:
        """Instances that appeared since `cursor`, and the new cursor (only for source-capable types)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ConnectorType(abc.ABC):
    """A kind of target (Orthanc REST, DICOM C-STORE, DICOMweb, S3 archive …)."""

    name: str
    """Stable identifier stored with each target (``"orthanc"``, ``"cstore"``, ``"dicomweb"``, ``"s3"``)."""
    title: str
    """Human name shown to practice owners."""
    config_schema: type[Schema]
    """Marshmallow schema of the target configuration; unknown fields are refused."""
    secret_fields: frozenset[str] = frozenset()
    """Configuration fields stored encrypted and never returned by the API."""
    can_poll: bool = False
    """Whether `Connection.poll_new_instances` is implemented (the type can act as a source)."""

    @abc.abstractmethod
    def open(self, config: Mapping[str, Any]) -> Connection:
        """A connection for a validated configuration (secrets already decrypted)."""

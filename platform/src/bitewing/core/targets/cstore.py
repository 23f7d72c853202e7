"""The built-in ``cstore`` connector type: any DICOM node that accepts C-STORE (a PACS, a VNA, dcmtk storescp).

Registered as a built-in plugin of the ``bitewing_connector_types`` hook (see `bitewing.core.plugins.manager`).
This module holds the configuration schema and the type (cheap to import: the plugin manager loads it at every
start); the connection lives in `bitewing.core.targets.cstore_scu`, the associations in
`bitewing.core.targets.dimse`, both imported only when a connection is opened.

- **Store**: one association proposes the instance's SOP class with its own transfer syntax and, as separate
  contexts, Explicit and Implicit VR Little Endian (plus Study Root C-FIND for the verification that follows).
  An uncompressed instance is sent in whichever little-endian syntax the peer took; a compressed instance is
  sent as it is, and if the peer takes only uncompressed the store fails for good, saying the target's
  transfer syntax must be set to "uncompressed" (the core then transcodes before sending). Status 0x0000 and
  warnings (0x0001, 0xBxxx) count as stored; 0xA7xx (out of resources) is retryable, any other failure is not.
  A DICOM node keeps one copy per SOP Instance UID, so storing again does not duplicate the instance.
- **Verify**: C-FIND (Study Root, IMAGE level) on the Study, Series and SOP Instance UIDs, when the peer
  supports it (Orthanc does, for AE titles it knows). When the peer offers no C-FIND, or refuses our query
  (Orthanc refuses queries from AE titles not registered as modalities), verification trusts the C-STORE
  success status and says so in the log; `check()` tells the practice owner which of the two applies.
- **Check**: C-ECHO, then a C-FIND probe for an instance that cannot exist.
- An open connection keeps its association for the next store or verification when the accepted contexts
  fit, and releases it on `close`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from bitewing.core.plugins import hookimpl
from bitewing.core.plugins.connectors import ConnectorError, ConnectorType

if TYPE_CHECKING:
    from bitewing.core.targets.cstore_scu import CStoreConnection

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII except backslash
_PEM = "-----BEGIN "


def _host(value: str) -> None:
    if "://" in value or "/" in value:
        raise ValidationError("Enter only the host name or IP address, without http:// or a path.")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.match(value):
            raise ValidationError("Enter a host name (e.g. pacs.example) or an IP address.") from None


def _ae_title(value: str) -> None:
    if not _AE_TITLE.match(value) or not value.strip():
        raise ValidationError("An AE title is 1 to 16 letters, digits or symbols (no backslash).")


def _pem(value: str) -> None:
    if value and _PEM not in value:
        raise ValidationError("Paste the certificate or key in PEM form (-----BEGIN ...).")


class CStoreConfigSchema(Schema):
    """Configuration of a DICOM C-STORE target: address, AE titles, optional TLS, timeout."""

    class Meta:
        unknown = RAISE

    host = fields.String(required=True, validate=_host)
    port = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=65535, error="The port must be between 1 and 65535."),
    )
    called_ae = fields.String(
        required=True, validate=_ae_title, metadata={"description": "The target's AE title"}
    )
    calling_ae = fields.String(load_default="BITEWING", validate=_ae_title)
    tls = fields.Boolean(load_default=False)
    tls_ca_pem = fields.String(load_default=None, allow_none=True, validate=_pem)
    tls_cert_pem = fields.String(load_default=None, allow_none=True, validate=_pem)
    tls_key_pem = fields.String(load_default=None, allow_none=True, validate=_pem)
    tls_check_hostname = fields.Boolean(load_default=True)
    timeout = fields.Float(
        load_default=30.0,
        validate=validate.Range(min=1, max=600, error="The timeout must be between 1 and 600 seconds."),
    )

    @validates_schema
    def _tls_material(self, data: dict[str, Any], **kwargs: Any) -> None:
        if bool(data.get("tls_cert_pem")) != bool(data.get("tls_key_pem")):
            raise ValidationError(
                "A client certificate needs its private key, and the key its certificate.", "tls_key_pem"
            )
        if not data.get("tls") and any(data.get(k) for k in ("tls_ca_pem", "tls_cert_pem", "tls_key_pem")):
            raise ValidationError("Certificates are only used with TLS: switch TLS on or remove them.", "tls")

    @post_load
    def _normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["called_ae"] = data["called_ae"].strip()
        data["calling_ae"] = data["calling_ae"].strip()
        return data


def load_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The validated configuration; one the schema refuses raises a non-retryable `ConnectorError`."""
    try:
        loaded: dict[str, Any] = CStoreConfigSchema().load(dict(config))
    except ValidationError as exc:
        raise ConnectorError(f"Invalid DICOM C-STORE configuration: {exc.messages}", retryable=False) from exc
    return loaded


class CStoreConnectorType(ConnectorType):
    """DICOM C-STORE to any DICOM node (pynetdicom SCU)."""

    name = "cstore"
    title = "DICOM C-STORE"
    config_schema = CStoreConfigSchema
    secret_fields = frozenset({"tls_key_pem"})

    def open(self, config: Mapping[str, Any]) -> CStoreConnection:
        from bitewing.core.targets.cstore_scu import CStoreConnection
        from bitewing.core.targets.dimse import DimseSettings

        return CStoreConnection(DimseSettings(**load_config(config)))


@hookimpl
def bitewing_connector_types() -> list[ConnectorType]:
    return [CStoreConnectorType()]

"""The ``orthanc`` connector type: an Orthanc server as a VNA target (REST upload) and as a source (``/changes``).

- **Store**: ``POST /instances`` with the Part-10 bytes. Orthanc answers ``Status`` ``"Success"`` for a new
  instance and ``"AlreadyStored"`` for one it holds already (it keeps its first copy unless the server sets
  ``OverwriteInstances``), so a retried delivery never creates a duplicate. ``"FilteredOut"`` (refused by a
  Lua filter or plugin) cannot succeed on retry; ``"Failure"`` may.
- **Verify**: ``POST /tools/find`` at Instance level on the SOP Instance UID. The stored file's checksum is
  not compared: after ``AlreadyStored`` (or ingest transcoding) Orthanc's copy can legitimately differ in bytes.
- **Source**: ``GET /changes?since=<cursor>`` for ``NewInstance`` events, then ``GET /instances/{id}/file``.
  The cursor is Orthanc's change sequence number; ``None`` starts from the beginning of the change log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from bitewing.connectors.orthanc.client import OrthancClient, OrthancHTTPError, OrthancSettings
from bitewing.core.plugins.connectors import (
    CheckResult,
    Connection,
    ConnectorError,
    ConnectorType,
    InstanceRef,
    PolledInstance,
    StoreResult,
)

CHANGES_PAGE = 1000
"""Changes asked for per ``/changes`` request."""
MAX_INSTANCES_PER_POLL = 1000
"""A poll stops paging once it has this many new instances; the next poll continues from its cursor."""
STORED_STATUSES = {"Success": "stored", "AlreadyStored": "already stored: Orthanc kept its existing copy"}


def _plain_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValidationError("The address must not contain '?' or '#'.")
    if parts.username or parts.password:
        raise ValidationError("Put the user name and password in their own fields, not in the address.")


class OrthancConfigSchema(Schema):
    """Configuration of an Orthanc target: REST address, login and network settings."""

    class Meta:
        unknown = RAISE

    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=_plain_http_url,
        error_messages={
            "invalid": "Enter the full address of the Orthanc server, e.g. https://pacs.example:8042."
        },
        metadata={"description": "Address of Orthanc's REST API, e.g. https://pacs.example:8042"},
    )
    username = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    password = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1024))
    verify_tls = fields.Boolean(load_default=True, metadata={"description": "Check the server's certificate"})
    timeout = fields.Float(
        load_default=30.0,
        validate=validate.Range(min=1, max=600, error="The timeout must be between 1 and 600 seconds."),
        metadata={"description": "Seconds to wait for an answer"},
    )

    @validates_schema
    def _credentials_in_pairs(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("password") and not data.get("username"):
            raise ValidationError("Enter the user name that goes with the password.", "username")

    @post_load
    def _normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["url"] = data["url"].rstrip("/")
        return data


def settings_from_config(config: Mapping[str, Any]) -> OrthancSettings:
    """Validated settings; a configuration the schema refuses raises a non-retryable `ConnectorError`."""
    try:
        loaded = OrthancConfigSchema().load(dict(config))
    except ValidationError as exc:
        raise ConnectorError(f"Invalid Orthanc configuration: {exc.messages}", retryable=False) from exc
    return OrthancSettings(**loaded)


class OrthancConnection(Connection):
    """An open link to one Orthanc (one HTTP session, reused for every call until `close`)."""

    def __init__(self, client: OrthancClient) -> None:
        self.client = client
        self.settings = client.settings

    def check(self) -> CheckResult:
        """Ask ``GET /system``: reachability, TLS, credentials and that the server is an Orthanc."""
        try:
            system = self.client.json("GET", "/system", action="reading /system")
        except OrthancHTTPError as exc:
            steps = [f"Connected to {self.settings.url}"]
            if exc.status == 401:
                steps.append("Login refused: check the user name and password")
            else:
                steps.append(exc.message)
            return CheckResult(ok=False, steps=steps)
        except ConnectorError as exc:
            return CheckResult(ok=False, steps=[exc.message])
        steps = [f"Connected to {self.settings.url}"]
        if not isinstance(system, dict) or "Version" not in system:
            steps.append("The server answered, but not as an Orthanc: check the address")
            return CheckResult(ok=False, steps=steps)
        steps.append(f"Orthanc {system['Version']} answered")
        if system.get("DicomAet"):
            steps.append(f"Its name is {system.get('Name', '?')}, DICOM AE title {system['DicomAet']}")
        return CheckResult(ok=True, steps=steps)

    def store_instance(self, data: bytes, ref: InstanceRef) -> StoreResult:
        """``POST /instances``; "Success" and "AlreadyStored" both count as stored (idempotent)."""
        answer = self.client.json(
            "POST", "/instances", action="storing the instance", data=data, content_type="application/dicom"
        )
        if isinstance(answer, list):  # Orthanc answers a list for archives; a single file gives one entry
            answer = answer[0] if answer else {}
        status = answer.get("Status") if isinstance(answer, dict) else None
        if status in STORED_STATUSES and answer.get("ID"):
            return StoreResult(remote_id=str(answer["ID"]), detail=f"Orthanc: {STORED_STATUSES[status]}")
        if status == "FilteredOut":
            raise ConnectorError(
                "Orthanc refused the instance: a filter on the server (Lua script or plugin) rejected it",
                retryable=False,
            )
        raise ConnectorError(f"Orthanc did not store the instance (status {status!r})", retryable=True)

    def find(self, sop_instance_uid: str) -> list[str]:
        """Orthanc ids of the instances with this SOP Instance UID."""
        query = {"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}, "Expand": False}
        found = self.client.json("POST", "/tools/find", action="looking for the instance", json=query)
        return [str(i) for i in found] if isinstance(found, list) else []

    def verify_instance(self, ref: InstanceRef) -> bool:
        """Whether Orthanc's index has an instance with the SOP Instance UID of `ref`."""
        return bool(self.find(ref.sop_instance_uid))

    def poll_new_instances(self, cursor: str | None) -> tuple[Iterator[PolledInstance], str | None]:
        """New instances since `cursor` and the cursor after them.

        The instances are downloaded lazily while the iterator is consumed: save the returned cursor only
        after consuming it entirely. A cursor beyond the end of the change log (the Orthanc database was
        replaced) starts again from the beginning; receiving is idempotent, so re-offered instances are
        harmless. An instance deleted between the change and the download is skipped.
        """
        try:
            since = int(cursor) if cursor else 0
        except ValueError:
            raise ConnectorError(f"Invalid Orthanc change cursor {cursor!r}", retryable=False) from None
        ids: list[str] = []
        restarted = False
        while True:
            page = self.client.json(
                "GET",
                "/changes",
                action="reading the change log",
                params={"since": since, "limit": CHANGES_PAGE},
            )
            last = int(page.get("Last", since))
            if last < since and not restarted:
                since, restarted = 0, True
                continue
            ids.extend(
                str(change["ID"])
                for change in page.get("Changes", [])
                if change.get("ChangeType") == "NewInstance"
            )
            since = max(since, last)
            if page.get("Done", True) or len(ids) >= MAX_INSTANCES_PER_POLL:
                break
        return self._download(ids), str(since)

    def _download(self, ids: list[str]) -> Iterator[PolledInstance]:
        for orthanc_id in ids:
            response = self.client.request(
                "GET", f"/instances/{orthanc_id}/file", action="downloading an instance", allow=(404,)
            )
            if response.status_code == 404:
                continue
            yield PolledInstance(remote_id=orthanc_id, data=response.content)

    def close(self) -> None:
        self.client.close()


class OrthancConnectorType(ConnectorType):
    """Orthanc's REST API: target (upload, verify) and source (change log)."""

    name = "orthanc"
    title = "Orthanc (REST API)"
    config_schema = OrthancConfigSchema
    secret_fields = frozenset({"password"})
    can_poll = True

    def open(self, config: Mapping[str, Any]) -> OrthancConnection:
        return OrthancConnection(OrthancClient(settings_from_config(config)))

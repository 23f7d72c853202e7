"""The ``dicomweb`` connector type: any DICOMweb service as a VNA target (STOW-RS to store, QIDO-RS to verify).

- **Store**: STOW-RS of the one instance. The response's Failed SOP Sequence decides: a failure reason in
  0xA7xx (out of resources) is worth a retry, any other reason means the service refused the instance
  (dead letter), as for C-STORE statuses. HTTP 5xx/408/429 and network failures are retryable;
  401/403/404 and other 4xx are not. Storing an instance the service already holds is a success on
  conformant services (Orthanc answers it in the Referenced SOP Sequence), so retries create no duplicates.
- **Verify**: QIDO-RS ``/studies/{study}/instances?SOPInstanceUID=...`` (study-scoped: some services do not
  offer the all-instances search).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import requests
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from bitewing.connectors.dicomweb.client import (
    AUTH_BASIC,
    AUTH_BEARER,
    AUTH_NONE,
    DicomwebHTTPError,
    DicomwebSettings,
    http_error,
    login_refused_message,
    make_client,
    make_session,
    transport_error,
)
from bitewing.core.plugins.connectors import (
    CheckResult,
    Connection,
    ConnectorError,
    ConnectorType,
    InstanceRef,
    StoreResult,
)

SOP_INSTANCE_UID_TAG = "00080018"
_PREFIX = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")


def _plain_http_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise ValidationError("The address must not contain '?' or '#'.")
    if parts.username or parts.password:
        raise ValidationError("Put the user name and password in their own fields, not in the address.")


def _prefix_field() -> fields.String:
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            _PREFIX, error="A prefix is a path such as 'qido' or 'rs/v1', without slashes at the ends."
        ),
    )


class DicomwebConfigSchema(Schema):
    """Configuration of a DICOMweb target: base URL, authentication, optional service prefixes."""

    class Meta:
        unknown = RAISE

    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=_plain_http_url,
        error_messages={
            "invalid": "Enter the full base address of the DICOMweb service, e.g. https://pacs.example/dicom-web."
        },
    )
    auth = fields.String(
        load_default=AUTH_NONE,
        validate=validate.OneOf(
            [AUTH_NONE, AUTH_BASIC, AUTH_BEARER], error="Choose none, basic or bearer authentication."
        ),
    )
    username = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    password = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1024))
    token = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8192))
    qido_prefix = _prefix_field()
    wado_prefix = _prefix_field()
    stow_prefix = _prefix_field()
    verify_tls = fields.Boolean(load_default=True)
    timeout = fields.Float(
        load_default=60.0,
        validate=validate.Range(min=1, max=600, error="The timeout must be between 1 and 600 seconds."),
    )

    @validates_schema
    def _credentials_match_auth(self, data: dict[str, Any], **kwargs: Any) -> None:
        auth = data.get("auth", AUTH_NONE)
        if auth == AUTH_BASIC and not data.get("username"):
            raise ValidationError("Basic authentication needs a user name.", "username")
        if auth == AUTH_BEARER and not data.get("token"):
            raise ValidationError("Bearer authentication needs an access token.", "token")

    @post_load
    def _normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["url"] = data["url"].rstrip("/")
        return data


def settings_from_config(config: Mapping[str, Any]) -> DicomwebSettings:
    try:
        loaded = DicomwebConfigSchema().load(dict(config))
    except ValidationError as exc:
        raise ConnectorError(f"Invalid DICOMweb configuration: {exc.messages}", retryable=False) from exc
    return DicomwebSettings(**loaded)


def _status_text(code: int) -> str:
    if 0xA700 <= code <= 0xA7FF:
        return "out of resources"
    if 0xA900 <= code <= 0xA9FF:
        return "the data set does not match its SOP class"
    if code == 0xC122:
        return "its transfer syntax is not supported: set the target's transfer syntax to 'uncompressed'"
    if 0xC000 <= code <= 0xCFFF:
        return "the service cannot understand it"
    return {
        0x0110: "processing failure",
        0x0122: "its SOP class is not supported",
        0x0124: "not authorised",
    }.get(code, "refused")


def _failure(response: Dataset, sop_instance_uid: str) -> ConnectorError | None:
    """The error a STOW-RS response reports for our instance, if any."""
    for item in response.get("FailedSOPSequence", []):
        if item.get("ReferencedSOPInstanceUID", sop_instance_uid) != sop_instance_uid:
            continue
        code = int(item.get("FailureReason", 0xC000))
        retryable = 0xA700 <= code <= 0xA7FF
        return ConnectorError(
            f"The DICOMweb service did not store the instance: {_status_text(code)} (failure reason "
            f"0x{code:04X})",
            retryable=retryable,
        )
    return None


def _parse_stow_body(response: requests.Response | None) -> Dataset:
    """The DICOM JSON body of an error answer, or an empty dataset."""
    if response is None or not response.content:
        return Dataset()
    try:
        return Dataset.from_json(response.json())
    except (ValueError, TypeError, KeyError):
        return Dataset()


class DicomwebConnection(Connection):
    """An open DICOMweb client (one HTTP session until `close`)."""

    def __init__(self, settings: DicomwebSettings) -> None:
        self.settings = settings
        self.session = make_session(settings)
        try:
            self.client = make_client(settings, self.session)
        except ConnectorError:
            self.session.close()
            raise

    def _call(self, action: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except requests.HTTPError as exc:
            if exc.response is None:
                raise ConnectorError(f"DICOMweb request failed while {action}: {exc}") from exc
            raise http_error(exc.response, self.settings, action) from exc
        except requests.RequestException as exc:
            raise transport_error(exc, self.settings, action) from exc

    def check(self) -> CheckResult:
        """Search for one study (QIDO-RS): reachability, TLS, login and the search prefix."""
        steps: list[str] = []
        try:
            self._call("searching for studies", self.client.search_for_studies, limit=1)
        except DicomwebHTTPError as exc:
            steps.append(f"Connected to {self.settings.url}")
            steps.append(login_refused_message(self.settings) if exc.status == 401 else exc.message)
            return CheckResult(ok=False, steps=steps)
        except ConnectorError as exc:
            return CheckResult(ok=False, steps=[exc.message])
        except ValueError as exc:  # an answer that is not DICOM JSON
            steps.append(f"Connected to {self.settings.url}")
            steps.append(f"The server answered the study search, but not as a DICOMweb service: {exc}")
            return CheckResult(ok=False, steps=steps)
        steps.append(f"Connected to {self.settings.url}")
        steps.append("The DICOMweb service answered a study search (QIDO-RS)")
        steps.append("Storing (STOW-RS) is tried with the first delivery")
        return CheckResult(ok=True, steps=steps)

    def store_instance(self, data: bytes, ref: InstanceRef) -> StoreResult:
        """STOW-RS the instance; an instance the service already holds counts as stored."""
        try:
            dataset = dcmread(BytesIO(data))
        except (InvalidDicomError, ValueError, EOFError) as exc:
            raise ConnectorError(
                f"The instance is not a readable DICOM file: {exc}", retryable=False
            ) from exc
        action = "storing the instance"
        try:
            answer = self.client.store_instances([dataset])
        except requests.HTTPError as exc:
            failure = _failure(_parse_stow_body(exc.response), ref.sop_instance_uid)
            if failure is not None:
                raise failure from exc
            if exc.response is None:
                raise ConnectorError(f"DICOMweb request failed while {action}: {exc}") from exc
            error = http_error(exc.response, self.settings, action)
            if error.status in (400, 409, 415):
                error = DicomwebHTTPError(
                    f"The DICOMweb service refused the instance (HTTP {error.status})",
                    status=error.status,
                    retryable=False,
                )
            raise error from exc
        except requests.RequestException as exc:
            raise transport_error(exc, self.settings, action) from exc
        except ValueError as exc:  # an answer dicomweb-client cannot parse
            raise ConnectorError(f"The DICOMweb service gave an unreadable answer: {exc}") from exc
        failure = _failure(answer, ref.sop_instance_uid)
        if failure is not None:
            raise failure
        detail = "stored"
        for item in answer.get("ReferencedSOPSequence", []):
            if item.get("ReferencedSOPInstanceUID") == ref.sop_instance_uid and "WarningReason" in item:
                detail = f"stored with warning 0x{int(item.WarningReason):04X}"
        return StoreResult(remote_id=ref.sop_instance_uid, detail=detail)

    def verify_instance(self, ref: InstanceRef) -> bool:
        """QIDO-RS for the SOP Instance UID inside its study."""
        found = self._call(
            "searching for the instance",
            self.client.search_for_instances,
            study_instance_uid=ref.study_instance_uid,
            search_filters={"SOPInstanceUID": ref.sop_instance_uid},
        )
        return any(
            ref.sop_instance_uid in item.get(SOP_INSTANCE_UID_TAG, {}).get("Value", [])
            for item in found or []
        )

    def close(self) -> None:
        self.session.close()


class DicomwebConnectorType(ConnectorType):
    """A DICOMweb service (STOW-RS target, QIDO-RS verification)."""

    name = "dicomweb"
    title = "DICOMweb (STOW-RS)"
    config_schema = DicomwebConfigSchema
    secret_fields = frozenset({"password", "token"})

    def open(self, config: Mapping[str, Any]) -> DicomwebConnection:
        return DicomwebConnection(settings_from_config(config))

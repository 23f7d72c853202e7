"""The ``s3`` connector type: an S3 bucket (AWS or S3-compatible) as an archive target for DICOM instances.

- **Store**: the Part-10 bytes go to ``{prefix}/{ref.object_name}`` (or ``{ref.object_name}`` without prefix)
  with ``Content-Type: application/dicom``, ``Content-MD5`` and the SHA-256 as ``x-amz-meta-sha256``. The key
  is the same for every retry of a delivery, so storing again overwrites the same object with the same bytes;
  when the object is already there with the same size and SHA-256 the upload is skipped (no new version in a
  versioned or object-locked bucket). The bytes must be the ones `ref` describes (size and SHA-256): the
  store refuses others rather than archive something `verify_instance` would never confirm.
- **Verify**: HEAD the key and compare its size and recorded SHA-256 with `ref`.
- **Check**: write, read back and delete a small probe object (``{prefix}/.bitewing-check``); an archive
  login without delete permission (write-once) passes, with a note.

Clients come from `bitewing.connectors.s3.client.make_client`, the connector's one boto3 client factory.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.client import BaseClient
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from bitewing.connectors.s3.client import S3Settings, make_client
from bitewing.connectors.s3.errors import translate
from bitewing.connectors.s3.store import SHA256_METADATA
from bitewing.core.plugins import ObjectNotFound, ObjectStoreError
from bitewing.core.plugins.connectors import (
    CheckResult,
    Connection,
    ConnectorError,
    ConnectorType,
    InstanceRef,
    StoreResult,
)
from bitewing.core.plugins.storage import sha256_hex

DICOM_CONTENT_TYPE = "application/dicom"
CHECK_NAME = ".bitewing-check"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SSE = re.compile(r"^(AES256|aws:kms|aws:kms:\S+)$")
_RETRYABLE_CODES = {
    "500",
    "502",
    "503",
    "504",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
}


def _bucket(value: str) -> None:
    if not _BUCKET.match(value) or ".." in value:
        raise ValidationError("A bucket name is 3 to 63 lowercase letters, digits, dots or hyphens.")


def _prefix(value: str) -> None:
    parts = value.strip("/").split("/")
    if "\\" in value or any(p in (".", "..") for p in parts) or "//" in value.strip("/"):
        raise ValidationError(
            "A prefix is a folder path such as 'archive/practice-1' (no '.', '..' or '//')."
        )


def _endpoint(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment or parts.username:
        raise ValidationError("The endpoint is an address such as https://s3.example:9000, nothing more.")


class S3TargetConfigSchema(Schema):
    """Configuration of an S3 archive target."""

    class Meta:
        unknown = RAISE

    bucket = fields.String(required=True, validate=_bucket)
    prefix = fields.String(load_default="", validate=_prefix)
    endpoint_url = fields.Url(
        load_default=None,
        allow_none=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=_endpoint,
        error_messages={
            "invalid": "Enter the endpoint's full address, e.g. https://s3.example:9000 (empty for AWS)."
        },
    )
    region = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^[a-z0-9-]{1,32}$", error="A region looks like eu-central-1 or ca-central-1."
        ),
    )
    access_key_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    secret_access_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1024))
    sse = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            _SSE, error="Server-side encryption is AES256, aws:kms or aws:kms:<key id>."
        ),
    )

    @validates_schema
    def _keys_in_pairs(self, data: dict[str, Any], **kwargs: Any) -> None:
        if bool(data.get("access_key_id")) != bool(data.get("secret_access_key")):
            raise ValidationError(
                "Enter both the access key id and the secret access key, or neither (to use the server's role).",
                "secret_access_key",
            )

    @post_load
    def _normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        data["prefix"] = data["prefix"].strip("/")
        return data


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return str(error.get("Code", "")) in _RETRYABLE_CODES or status >= 500 or status in (408, 429)
    return isinstance(
        exc, BotoConnectionError | EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError
    )


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


class S3ArchiveConnection(Connection):
    """One bucket (and prefix) through one boto3 client."""

    def __init__(self, client: BaseClient, bucket: str, prefix: str, settings: S3Settings) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.settings = settings
        self._sse = settings.sse_arguments()

    def key(self, name: str) -> str:
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
            raise ConnectorError(f"Invalid object name {name!r} for the S3 archive", retryable=False)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _error(self, exc: Exception, action: str, key: str) -> ConnectorError:
        endpoint = self.settings.endpoint_label
        translated = translate(exc, bucket=self.bucket, endpoint=endpoint, action=action, key=key)
        if isinstance(exc, BotoConnectionError | EndpointConnectionError | ConnectTimeoutError):
            parts = urlsplit(self.settings.endpoint_url or "")
            if parts.hostname:
                port = parts.port or (443 if parts.scheme == "https" else 80)
                return ConnectorError(
                    f"Cannot reach host {parts.hostname} on port {port}: is it running and reachable from "
                    "Bitewing?",
                    retryable=True,
                )
        return ConnectorError(_sentence(str(translated)), retryable=_retryable(exc))

    def _head(self, key: str) -> dict[str, Any] | None:
        """The HEAD answer for `key`, or None when there is no such object."""
        try:
            response: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(
                translate(exc, bucket=self.bucket, endpoint="", action="head", key=key), ObjectNotFound
            ):
                return None
            raise self._error(exc, "head", key) from exc
        return response

    def _put(self, key: str, data: bytes, sha256: str) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=DICOM_CONTENT_TYPE,
                ContentMD5=md5,
                Metadata={SHA256_METADATA: sha256},
                **self._sse,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "put", key) from exc

    def check(self) -> CheckResult:
        """Write, read back and delete a probe object below the prefix."""
        key = self.key(CHECK_NAME)
        where = f"bucket {self.bucket}" + (f" under {self.prefix}/" if self.prefix else "")
        steps: list[str] = []
        probe = b"bitewing archive check"
        try:
            self._put(key, probe, sha256_hex(probe))
            steps.append(f"Connected to {self.settings.endpoint_label}")
            steps.append(f"Wrote a test object to {where}")
            if self._head(key) is None:
                steps.append("The test object cannot be found right after writing it")
                return CheckResult(ok=False, steps=steps)
            steps.append("Read the test object back")
        except ConnectorError as exc:
            return CheckResult(ok=False, steps=[*steps, exc.message])
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            steps.append("Deleted the test object")
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in ("AccessDenied", "403"):
                return CheckResult(ok=False, steps=[*steps, self._error(exc, "delete", key).message])
            steps.append(
                "Could not delete the test object (no delete permission: fine for a write-once archive)"
            )
        except BotoCoreError as exc:
            return CheckResult(ok=False, steps=[*steps, self._error(exc, "delete", key).message])
        return CheckResult(ok=True, steps=steps)

    def store_instance(self, data: bytes, ref: InstanceRef) -> StoreResult:
        """Put the bytes under the delivery's stable key (skipped when the same bytes are there already)."""
        sha256 = sha256_hex(data)
        if sha256 != ref.sha256 or len(data) != ref.size:
            raise ConnectorError(
                "The bytes to archive are not the ones the delivery describes (size or SHA-256 differ)",
                retryable=False,
            )
        key = self.key(ref.object_name)
        existing = self._head(key)
        if existing is not None and self._matches(existing, ref):
            return StoreResult(remote_id=key, detail="already archived")
        self._put(key, data, sha256)
        return StoreResult(remote_id=key, detail="archived")

    @staticmethod
    def _matches(head: dict[str, Any], ref: InstanceRef) -> bool:
        recorded = head.get("Metadata", {}).get(SHA256_METADATA)
        return int(head.get("ContentLength", -1)) == ref.size and recorded == ref.sha256

    def verify_instance(self, ref: InstanceRef) -> bool:
        """HEAD the key: present, with the size and SHA-256 of `ref`."""
        head = self._head(self.key(ref.object_name))
        return head is not None and self._matches(head, ref)

    def close(self) -> None:
        self.client.close()


class S3ArchiveType(ConnectorType):
    """An S3 bucket as a DICOM archive."""

    name = "s3"
    title = "S3 archive (AWS S3 or compatible)"
    config_schema = S3TargetConfigSchema
    secret_fields = frozenset({"secret_access_key"})

    def open(self, config: Mapping[str, Any]) -> S3ArchiveConnection:
        try:
            loaded = S3TargetConfigSchema().load(dict(config))
        except ValidationError as exc:
            raise ConnectorError(
                f"Invalid S3 archive configuration: {exc.messages}", retryable=False
            ) from exc
        settings = S3Settings(
            endpoint_url=loaded["endpoint_url"],
            region=loaded["region"],
            access_key_id=loaded["access_key_id"],
            secret_access_key=loaded["secret_access_key"],
            sse=loaded["sse"],
            max_attempts=1,  # the core's delivery queue retries, with backoff
        )
        try:
            settings.sse_arguments()
        except ObjectStoreError as exc:
            raise ConnectorError(str(exc), retryable=False) from exc
        return S3ArchiveConnection(make_client(settings), loaded["bucket"], loaded["prefix"], settings)
